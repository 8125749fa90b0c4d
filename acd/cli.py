"""Command line: ``acd serve``, ``acd demo``, ``acd check-config``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from . import logs
from .config import ConfigError, Settings, load_settings

log = logging.getLogger("acd")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acd", description="Automatic Call Distributor for Asterisk")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the ACD against Asterisk (or the simulator when none answers)")
    serve.add_argument("--config", "-c", type=Path, default=Path("acd.toml"), help="TOML file (default acd.toml)")

    demo = sub.add_parser("demo", help="the ACD, the simulated PBX and a stream of callers, for a first look")
    demo.add_argument("--port", type=int, default=8000, help="web UI port (default 8000)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    demo.add_argument("--minutes", type=float, default=0, help="stop after this many minutes (default: never)")
    demo.add_argument("--database", default="sqlite:///acd-demo.db")

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("config", type=Path)

    args = parser.parse_args(argv)
    try:
        if args.command == "check-config":
            settings = load_settings(args.config)
            print(f"{args.config}: OK ({len(settings.agents)} agents, {len(settings.groups)} queue groups, "
                  f"{len(settings.numbers)} numbers)")
            return 0
        if args.command == "serve":
            settings = load_settings(args.config)
            logs.setup(settings.service.log_level)
            return _run(_serve(settings, args.config))
        logs.setup("INFO")
        from .demo import run_demo

        return _run(run_demo(host=args.host, port=args.port, speed=args.speed, minutes=args.minutes,
                             database=args.database))
    except ConfigError as error:
        print(f"acd: {error}", file=sys.stderr)
        return 2


def _run(coro: object) -> int:
    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(settings: Settings, config_path: Path) -> None:
    from .serve import Acd
    from .simulate import simulator_if_needed

    async with simulator_if_needed(settings) as target:
        acd = Acd(settings, ami=target, config_path=config_path)
        _stop_on_signals(acd.stop)
        await acd.run()


def _stop_on_signals(stop: object) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())
