"""The ``wabridge`` console script."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import DeliveryError
from wabridge.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bridge.usecases.deadletters import DeadLetter

__all__ = ["main"]

ROLES = ("all", "web", "worker", "scheduler")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wabridge", description="Each WhatsApp conversation, a Slack thread."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the bridge (HTTP endpoints and workers)")
    serve.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="listen port (default: PORT or 8000)")
    serve.add_argument("--role", choices=ROLES, default="all", help="what to run")
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending migrations first"
    )
    commands.add_parser("migrate", help="bring the database schema to head and exit")
    demo = commands.add_parser(
        "demo", help="play a scripted conversation against the built-in simulators"
    )
    demo.add_argument("--keep", action="store_true", help="keep the demo's temporary folder")
    templates = commands.add_parser("templates", help="the WhatsApp Business Account's templates")
    template_actions = templates.add_subparsers(dest="action", required=True, metavar="ACTION")
    template_actions.add_parser("sync", help="fetch every template from Meta and store them")
    doctor = commands.add_parser(
        "doctor", help="check the configuration against Meta, Slack and the database"
    )
    doctor.add_argument(
        "--public-url",
        metavar="URL",
        help="the bridge's public base URL (https://host): also check Meta's webhook handshake",
    )
    dead = commands.add_parser(
        "deadletters", help="webhooks and jobs that failed: list, show, replay"
    )
    actions = dead.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the newest dead letters, newest first")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    show = actions.add_parser("show", help="one dead letter, whole")
    show.add_argument("ref", help="job:<id> or webhook:<id>, as list shows them")
    replay = actions.add_parser("replay", help="queue dead letters again")
    replay.add_argument("refs", nargs="*", help="job:<id> or webhook:<id>")
    replay.add_argument("--all", action="store_true", help="every dead letter list shows")
    numbers = commands.add_parser(
        "numbers", help="business numbers beyond the default one, each with its own channel"
    )
    number_actions = numbers.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = number_actions.add_parser("add", help="add a business number, or change one")
    add.add_argument("--phone-number-id", required=True, metavar="ID", help="its id at Meta")
    add.add_argument(
        "--display-number", required=True, metavar="N", help="its phone number, +4915112345678"
    )
    add.add_argument("--waba-id", required=True, metavar="W", help="its WhatsApp Business Account")
    add.add_argument("--channel", required=True, metavar="C", help="its Slack channel id")
    add.add_argument(
        "--access-token",
        metavar="T",
        help="its own access token (default: META_ACCESS_TOKEN; a number changed keeps its own)",
    )
    add.add_argument(
        "--app-secret",
        metavar="S",
        help="its own Meta app secret (default: META_APP_SECRET; a number changed keeps its own)",
    )
    number_actions.add_parser("list", help="every number, the default one first")
    remove = number_actions.add_parser("remove", help="stop serving an added number")
    remove.add_argument("phone_number_id", metavar="ID", help="its phone number id")
    return parser


def _port(text: str) -> int:
    """A TCP port, 1 to 65535 (argparse's one-line error otherwise)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: 1 to 65535")
    return port


def _configure_logs(settings: Settings, *, level: int = logging.INFO) -> None:
    from wabridge.logs import configure_logging

    configure_logging(fmt=settings.log_format, secrets=settings.secret_values(), level=level)


def _migrate(url: str) -> None:
    from storage.db import migrate

    migrate(url)


def _serve(args: argparse.Namespace) -> int:
    from wabridge.bootstrap import Role, build

    settings = load_settings()
    _configure_logs(settings)
    host, port = args.host or settings.host, args.port or settings.port
    # A worker or scheduler given a port serves its own metrics there.
    http = args.role in ("all", "web") or bool(args.port)
    # Listening comes first: a port another process holds is one line and exit 2, before
    # any migration or work has started.
    listener = _listen(host, port) if http else None
    if args.no_migrate:
        # Another process migrates; the database must still answer (a wrong URL or a server
        # that is not there is one line and exit 2, not a traceback from every worker step).
        from storage.db import reach

        reach(settings.database_url)
    else:
        _migrate(settings.database_url)
    bridge = build(settings)
    # What the start built lives as long as the process: kept out of the collector's full
    # passes, each of which otherwise walked it all (130 ms, with every request meanwhile
    # waiting, once in a burst of 20,000 webhooks; bench/RESULTS.md).
    gc.collect()
    gc.freeze()
    # uvloop where it exists (not on Windows): its loop costs the webhook route a third less
    # CPU than asyncio's own, as uvicorn.run would choose.
    runner = asyncio.Runner(loop_factory=_loop_factory())
    with runner:
        runner.run(
            bridge.serve(
                host=host,
                port=port,
                role=Role(args.role),
                http=bool(args.port),
                listener=listener,
            )
        )
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket ``serve`` answers on, bound now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        # create_server's message repeats the address; a failed name lookup (a negative
        # errno, getaddrinfo's) has no text of its own once create_server rewraps it.
        if error.errno is not None and error.errno > 0:
            why = os.strerror(error.errno)
        elif error.errno is not None:
            why = "no such host or address"
        else:
            why = type(error).__name__
        raise ConfigError(f"cannot listen on {host}:{port}: {why}") from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _line(letter: DeadLetter) -> str:
    when = letter.at.strftime("%Y-%m-%d %H:%M:%SZ")
    where = f"conversation {letter.conversation_id}" if letter.conversation_id else "-"
    error = letter.error.replace("\n", " ")
    if len(error) > 100:
        error = error[:99] + "…"
    return f"{letter.ref:<14} {when}  {letter.kind:<22} {where:<16} {letter.reason:<28} {error}"


async def _templates_sync(settings: Settings) -> int:
    from wabridge.bootstrap import (
        SystemClock,
        build_numbers,
        build_storage,
        build_templates,
        build_whatsapp,
        require_templates,
    )

    storage = build_storage(settings)
    numbers = build_numbers(settings, storage=storage)
    whatsapp = build_whatsapp(settings, numbers=numbers)
    try:
        templates = require_templates(
            build_templates(
                settings,
                storage=storage,
                whatsapp=whatsapp,
                clock=SystemClock(),
                numbers=numbers,
            )
        )
        result = await templates.sync()
    finally:
        await whatsapp.aclose()
        await storage.engine.dispose()
    print(f"{result.total} templates synced; {result.usable} approved and ready to send")
    return 0


async def _deadletters(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.usecases.deadletters import DeadLetters, parse_ref
    from wabridge.base import SystemClock, build_storage

    try:
        for ref in [*getattr(args, "refs", []), *([args.ref] if args.action == "show" else [])]:
            parse_ref(ref)
    except ValueError as error:
        print(f"wabridge: {error}", file=sys.stderr)
        return 2
    storage = build_storage(settings)
    letters = DeadLetters(uow=storage.uow, clock=SystemClock())
    try:
        if args.action == "list":
            found = await letters.list(limit=args.limit)
            if not found:
                print("no dead letters: every webhook and job ended well")
            for letter in found:
                print(_line(letter))
            return 0
        if args.action == "show":
            shown = await letters.show(args.ref)
            if shown is None:
                print(f"wabridge: no dead letter {args.ref}", file=sys.stderr)
                return 1
            print(_line(shown))
            print(f"attempts: {shown.attempts}")
            print(f"error: {shown.error}")
            content = shown.content
            if isinstance(content, str):
                try:
                    content = json.loads(content)
                except ValueError:
                    print(f"body: {content}")
                    return 0
            print(json.dumps(content, indent=2, ensure_ascii=False))
            return 0
        refs = list(args.refs)
        if args.all:
            refs += [letter.ref for letter in await letters.list(limit=10_000)]
        if not refs:
            print("wabridge: give job:<id> or webhook:<id>, or --all", file=sys.stderr)
            return 2
        missing = 0
        for ref in dict.fromkeys(refs):
            if await letters.replay(ref):
                print(f"{ref} queued again")
            else:
                print(f"wabridge: no dead letter {ref}", file=sys.stderr)
                missing += 1
        return 1 if missing else 0
    finally:
        await storage.engine.dispose()


async def _numbers(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.ports import BusinessNumber
    from bridge.usecases.numbers import AddOutcome, NumberError, Numbers
    from wabridge.base import SystemClock, build_storage, default_number

    storage = build_storage(settings)
    numbers = Numbers(uow=storage.uow, clock=SystemClock(), default=default_number(settings))
    try:
        if args.action == "list":
            print(
                f"{'PHONE NUMBER ID':<20} {'NUMBER':<17} {'WABA':<18} {'CHANNEL':<13} CREDENTIALS"
            )
            for number in await numbers.list():
                shown = f"+{number.display_phone_number}" if number.display_phone_number else "-"
                own = [
                    name
                    for name, value in (
                        ("own token", number.access_token),
                        ("own secret", number.app_secret),
                    )
                    if value
                ]
                credentials = ", ".join(own) or "the environment's"
                if number.default:
                    credentials += " (default number)"
                print(
                    f"{number.phone_number_id:<20} {shown:<17} {number.waba_id or '-':<18} "
                    f"{number.slack_channel:<13} {credentials}"
                )
            return 0
        if args.action == "add":
            added = await numbers.add(
                BusinessNumber(
                    phone_number_id=args.phone_number_id,
                    display_phone_number=args.display_number,
                    waba_id=args.waba_id,
                    slack_channel=args.channel,
                    access_token=args.access_token,
                    app_secret=args.app_secret,
                )
            )
            verb = "added" if added.outcome == AddOutcome.ADDED else "updated"
            print(f"number {args.phone_number_id} {verb}: its conversations go to {args.channel}")
            if added.replayed:
                print(f"{added.replayed} webhooks kept for unknown numbers queued again")
            return 0
        await numbers.remove(args.phone_number_id)
        print(
            f"number {args.phone_number_id} removed: its webhooks are kept and reported until "
            "it is added again; its conversations stay"
        )
        return 0
    except NumberError as error:
        print(f"wabridge: {error}", file=sys.stderr)
        return 2
    finally:
        await storage.engine.dispose()


def _doctor(args: argparse.Namespace) -> int:
    from wabridge.doctor import main as doctor

    public_url: str | None = args.public_url
    if public_url is not None and not public_url.startswith(("https://", "http://")):
        print(f"wabridge: --public-url must start with https://, got {public_url}", file=sys.stderr)
        return 2
    settings = load_settings()
    # The report says what is wrong, one line per check; log lines would only repeat it.
    _configure_logs(settings, level=logging.CRITICAL)
    return doctor(settings, public_url)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "migrate":
            settings = load_settings()
            _configure_logs(settings)
            _migrate(settings.database_url)
            print("database schema is at head")
            return 0
        if args.command == "demo":
            from wabridge.demo import run_demo

            return run_demo(keep=args.keep)
        if args.command == "templates":
            settings = load_settings()
            # A one-shot command says what went wrong in its own last line.
            _configure_logs(settings, level=logging.ERROR)
            return asyncio.run(_templates_sync(settings))
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "numbers":
            settings = load_settings()
            _configure_logs(settings, level=logging.WARNING)
            _migrate(
                settings.database_url
            )  # the columns numbers need, on a database not served yet
            return asyncio.run(_numbers(args, settings))
        if args.command == "deadletters":
            settings = load_settings()
            _configure_logs(settings)
            return asyncio.run(_deadletters(args, settings))
    except ConfigError as error:
        print(f"wabridge: {error}", file=sys.stderr)
        return 2
    except DeliveryError as error:
        answered = error.code is not None or error.http_status is not None
        refused = "WhatsApp (Meta) refused: " if answered else ""
        print(f"wabridge: {refused}{error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") and error.orig else error).splitlines()
        print(f"wabridge: database error: {reason[0] if reason else error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
