"""Command line: ``acd serve``, ``acd demo``, ``acd check-config``, ``acd db``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import MetaData

from . import logs
from .config import ConfigError, Settings, load_settings
from .core.conversation_model import ChannelKind
from .store.schema import SchemaError

log = logging.getLogger("acd")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acd", description="Automatic Call Distributor for Asterisk")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the ACD against Asterisk (the simulator only with simulate = \"always\")")
    serve.add_argument("--config", "-c", type=Path, default=Path("acd.toml"), help="TOML file (default acd.toml)")
    serve.add_argument("--port", type=_port, help="web UI port (default: [service] port of the file)")
    serve.add_argument("--host", help="web UI address (default: [service] host of the file)")

    demo = sub.add_parser("demo", help="the ACD, the simulated PBX and a stream of callers, for a first look")
    demo.add_argument("--port", type=_port, default=8000, help="web UI port (default 8000)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    demo.add_argument("--minutes", type=float, default=0, help="stop after this many minutes (default: never)")
    demo.add_argument("--database", default="sqlite:///acd-demo.db")

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("config", type=Path)

    db = sub.add_parser("db", help="the database's schema version: show it, upgrade it")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "bring the database's schema to this acd's (back it up first)"),
                       ("current", "say which schema revision the database has"),
                       ("revision", "(developers) write a new migration from the models' changes")):
        command = db_commands.add_parser(name, help=text)
        if name == "revision":
            command.add_argument("message")
        where = command.add_mutually_exclusive_group()
        where.add_argument("--config", "-c", type=Path, default=Path("acd.toml"),
                           help="TOML file whose [service] database to use (default acd.toml)")
        where.add_argument("--database", help="a database URL instead of the configuration's")

    args = parser.parse_args(argv)
    try:
        if args.command == "db":
            return _db(args)
        if args.command == "check-config":
            settings = load_settings(args.config)
            print(f"{args.config}: OK ({_counts(settings)})")
            for item, warning in settings.warnings():
                print(f"acd: warning: {args.config}: {item}: {warning}", file=sys.stderr)
            return 0
        if args.command == "serve":
            settings = load_settings(args.config)
            logs.setup(settings.service.log_level)
            for item, warning in settings.warnings():
                log.warning("config.%s: %s", item, warning, extra={"config": str(args.config)})
            web = (args.host or settings.service.host,
                   settings.service.port if args.port is None else args.port)
            return _run(_serve(settings, args.config, web))
        logs.setup("INFO")
        from .demo import run_demo

        return _run(run_demo(host=args.host, port=args.port, speed=args.speed, minutes=args.minutes,
                             database=args.database))
    except (ConfigError, SchemaError) as error:
        print(f"acd: {error}", file=sys.stderr)
        return 2


def _db(args: argparse.Namespace) -> int:
    from .store import make_engine, schema

    engine = make_engine(args.database or load_settings(args.config).service.database)
    try:
        if args.db_command == "current":
            print(f"acd: database schema: {schema.state(engine).describe()}")
        elif args.db_command == "upgrade":
            before = schema.upgrade(engine)
            print(f"acd: database schema: {before.describe()}, nothing to do" if before.up_to_date else
                  f"acd: database schema upgraded to {before.head} (was: {before.describe()})")
        else:
            schema.revision(engine, args.message, schema_metadata())
        return 0
    finally:
        engine.dispose()


def schema_metadata() -> list[MetaData]:
    """Every table acd declares, on their three declarative bases: what the newest
    migration must produce."""
    from .channels import history as channels
    from .crm import models as crm
    from .ha import lease_table, shared_state  # noqa: F401  (on the store's base)
    from .reports import tables  # noqa: F401  (on the store's base)
    from .store import models as store
    from .web import accounts, audit  # noqa: F401  (their tables are on the store's base)

    return [store.Base.metadata, crm.Base.metadata, channels.Base.metadata]


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return port


def _counts(settings: Settings) -> str:
    """What a configuration holds, in words: "4 agents, 1 queue group, ... 1 form"."""
    kinds = Counter(c.kind for c in settings.channels)
    counts = [(len(settings.agents), "agent", "agents"), (len(settings.groups), "queue group", "queue groups"),
              (len(settings.numbers), "number", "numbers"),
              (kinds[ChannelKind.CHAT], "chat queue", "chat queues"),
              (kinds[ChannelKind.EMAIL], "mailbox", "mailboxes"), (kinds[ChannelKind.FORM], "form", "forms")]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)


def _run(coro: object) -> int:
    from .event_loop import run
    from .serve import CannotListen  # the service's modules load only when it runs

    try:
        run(coro)  # type: ignore[arg-type]
    except CannotListen as error:  # one line, no traceback: the operator knows what to change
        print(f"acd: {error}", file=sys.stderr)
        return 2
    except NoLongerActive as error:
        print(f"acd: {error}; exiting to start again as a standby", file=sys.stderr)
        return EXIT_NO_LONGER_ACTIVE
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(settings: Settings, config_path: Path, web: tuple[str, int]) -> None:
    from .event_loop import stop_on_signals
    from .serve import Acd
    from .simulate import simulator_if_asked

    async with simulator_if_asked(settings) as target:
        acd = Acd(settings, ami=target, config_path=config_path, web_address=web)
        stop_on_signals(acd.stop)
        await acd.run(own_process=True)
    if acd.lost_leadership is not None:  # its supervisor starts it again, as a standby
        raise NoLongerActive(acd.lost_leadership)


class NoLongerActive(Exception):
    """This node lost the lease of its Asterisk server (another node is active now)."""


EXIT_NO_LONGER_ACTIVE = 75  # EX_TEMPFAIL: try again (systemd Restart=, docker restart:)


if __name__ == "__main__":
    raise SystemExit(main())
