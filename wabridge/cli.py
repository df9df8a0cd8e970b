"""The ``wabridge`` console script."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from wabridge.settings import ConfigError, Settings, load_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wabridge", description="Each WhatsApp conversation, a Slack thread."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the bridge (HTTP endpoints and workers)")
    serve.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8000)")
    serve.add_argument(
        "--role", choices=("all", "web", "worker", "scheduler"), default="all", help="what to run"
    )
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending migrations first"
    )
    commands.add_parser("migrate", help="bring the database schema to head and exit")
    demo = commands.add_parser(
        "demo", help="play a scripted conversation against the built-in simulators"
    )
    demo.add_argument("--keep", action="store_true", help="keep the demo's temporary folder")
    return parser


def _settings() -> Settings:
    return load_settings()


def _configure_logs(settings: Settings) -> None:
    from wabridge.bootstrap import secrets_of
    from wabridge.logs import configure_logging

    configure_logging(fmt=settings.log_format, secrets=secrets_of(settings))


def _migrate(url: str) -> None:
    from storage.db import migrate

    migrate(url)


def _serve(args: argparse.Namespace) -> int:
    from wabridge.bootstrap import build

    settings = _settings()
    _configure_logs(settings)
    if not args.no_migrate:
        _migrate(settings.database_url)
    bridge = build(settings)
    asyncio.run(
        bridge.serve(
            host=args.host or settings.host, port=args.port or settings.port, role=args.role
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "migrate":
            settings = _settings()
            _configure_logs(settings)
            _migrate(settings.database_url)
            print("database schema is at head")
            return 0
        if args.command == "demo":
            from wabridge.demo import run_demo

            return run_demo(keep=args.keep)
    except ConfigError as error:
        print(f"wabridge: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") and error.orig else error).splitlines()
        print(f"wabridge: database error: {reason[0] if reason else error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
