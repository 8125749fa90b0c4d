"""Run a standalone simulator for manual use: ``python -m acd.sim --port 5038``.

It loads the project dialplan, creates phones 101..105 that answer after a few seconds
and an AMI user (``--user``/``--secret``); ``--calls N`` places N test calls.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys

from acd.clock import Clock
from acd.event_loop import run

from . import Answer, ManagerUser, Simulator


async def main(args: argparse.Namespace) -> None:
    sim = Simulator(
        dialplan=args.dialplan,
        clock=Clock(args.speed),
        manager_users={args.user: ManagerUser(secret=args.secret)},
    )
    for n in range(101, 101 + args.phones):
        sim.add_phone(str(n), Answer(after=args.answer_after), callerid=(str(n), f"Agent {n}"))
    try:
        port = await sim.start(args.host, args.port)
    except OSError as e:  # one line, not a traceback: the operator knows what to change
        why = "the port is already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        print(f"python -m acd.sim: cannot listen on {args.host}:{args.port} (AMI): {why}; "
              "stop what uses it, or choose another port with --port", file=sys.stderr)
        raise SystemExit(2) from None
    logging.info("acd.sim: AMI on %s:%s (user %s), phones 101..%s", args.host, port, args.user, 100 + args.phones)
    for i in range(args.calls):
        await sim.call(args.did, f"1555000{i:04d}")
        await sim.clock.sleep(1)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m acd.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--dialplan", default="asterisk/extensions.conf")
    parser.add_argument("--user", default="acd")
    parser.add_argument("--secret", default="acd")
    parser.add_argument("--phones", type=int, default=5)
    parser.add_argument("--answer-after", type=float, default=3.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--did", default="5000")
    logging.basicConfig(level=logging.INFO)
    try:
        run(main(parser.parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    cli()
