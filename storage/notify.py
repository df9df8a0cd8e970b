"""PostgreSQL: processes tell each other that work was stored (``NOTIFY`` / ``LISTEN``).

One process can wake its own loops directly; with several (``--role web`` and ``--role
worker``), a worker would otherwise see a webhook or a job only at its next poll, up to
half a second later. A transaction that makes work due marks its session
(``mark_work``); the unit of work sends one ``NOTIFY`` per channel just before it
commits, so PostgreSQL delivers it on commit and never for a rollback. Each worker process
listens on a connection of its own (``listen``) and wakes the matching loop.

Work stored not due yet (an agent's reply held a moment, ``REPLY_SETTLE``) is told with
when it falls due, as seconds from its transaction (the notification's payload: the
soonest and the latest): the listener wakes its loop then too. Told only "now", a worker
would look at once, find nothing due, and wait its whole poll.

Nothing depends on it for correctness: a notification missed (the listener reconnecting, the
database restarting) only means the loop finds the work at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from typing import Final

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["INBOX", "JOBS", "listen", "mark_work", "marked", "send_marked"]

log = logging.getLogger(__name__)

#: Webhooks stored or queued again.
INBOX: Final = "wabridge_inbox"
#: Jobs queued or queued again.
JOBS: Final = "wabridge_jobs"
_NOTIFY: Final = {channel: text(f"NOTIFY {channel}") for channel in (INBOX, JOBS)}
_NOTIFY_DUE: Final = text("SELECT pg_notify(:channel, :due)")
_MARKED: Final = "wabridge.notify"
#: A listener that has heard nothing this long checks that its connection still answers.
_QUIET: Final = 30.0
_RETRY_MAX: Final = 30.0
#: The latest a notification may ask a loop to wake (a later one would find its work by
#: polling anyway).
_DUE_MAX: Final = 3600.0


def mark_work(session: AsyncSession, channel: str, *, due_in: float = 0.0) -> None:
    """Tell ``channel``'s listeners once this session's transaction commits (PostgreSQL),
    of work due in ``due_in`` seconds; on either engine, ``marked`` says so until then."""
    marks: dict[str, tuple[float, float]] = session.info.setdefault(_MARKED, {})
    due_in = max(0.0, due_in)
    soonest, latest = marks.get(channel, (due_in, due_in))
    marks[channel] = (min(soonest, due_in), max(latest, due_in))


def marked(session: AsyncSession, channel: str) -> bool:
    """Whether this session's transaction stored work for ``channel``'s loops."""
    return channel in session.info.get(_MARKED, ())


async def send_marked(session: AsyncSession) -> None:
    """Send the notifications ``mark_work`` asked for; call just before the commit."""
    marks: dict[str, tuple[float, float]] = session.info.pop(_MARKED, {})
    if session.get_bind().dialect.name != "postgresql":
        return
    for channel, (soonest, latest) in sorted(marks.items()):
        if latest <= 0:
            await session.execute(_NOTIFY[channel])
        else:
            due = f"{soonest:.3f} {latest:.3f}"
            await session.execute(_NOTIFY_DUE, {"channel": channel, "due": due})


def _due(payload: str) -> set[float]:
    """When the work a notification tells of falls due, in seconds from now ({0.0}: now, as
    for a payload this version does not read; at most ``_DUE_MAX``)."""
    try:
        due = {float(part) for part in payload.split()}
    except ValueError:
        return {0.0}
    return {min(max(0.0, d), _DUE_MAX) if math.isfinite(d) else 0.0 for d in due} or {0.0}


def conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (no driver name)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(database_url: str, wakes: Mapping[str, Callable[[float], None]]) -> None:
    """Call ``wakes[channel](seconds)`` whenever another process notifies ``channel`` of
    work due in that many seconds (0: now); runs until cancelled. A lost connection is
    logged and opened again (with backoff); on every (re)connection each loop is woken once,
    for what came while nobody listened."""
    delay = 1.0
    failing = False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo(database_url), autocommit=True
            ) as connection:
                for channel in wakes:
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                if failing:
                    log.info("listening for other processes' work again")
                failing, delay = False, 1.0
                for wake in wakes.values():
                    wake(0.0)
                while True:
                    async for note in connection.notifies(timeout=_QUIET):
                        heard = wakes.get(note.channel)
                        if heard is not None:
                            for due_in in sorted(_due(note.payload)):
                                heard(due_in)
                    await connection.execute("SELECT 1")  # quiet: is anyone still there?
        except Exception as error:  # never ends the listener: the poll covers meanwhile
            if not failing:
                log.warning(
                    "not listening for other processes' work; polling meanwhile",
                    extra={"error": type(error).__name__},
                    exc_info=not isinstance(error, psycopg.Error | OSError),
                )
            failing = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)
