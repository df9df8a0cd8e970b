"""The database goes away under a running bridge: webhooks are answered 503, never 200, so
Meta retries them; agents' replies are not acked either, so Slack retries them; ``/readyz``
says 503; once the database is back, new webhooks are taken and the work left pending goes
on.

PostgreSQL goes away behind a proxy that is cut; SQLite stops taking writes, as on a full
disk, through a file size limit set on the running bridge (root writes read-only files all
the same, so a read-only file would not stop a test run as root)."""

from __future__ import annotations

import resource
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from sandbox.harness import CHANNEL, Sandbox
from sandbox.tcp_proxy import TcpProxy
from tests.dbutil import USE_POSTGRES
from tests.e2e.steps import ADA, open_thread, sent_texts, thread_texts

pytestmark = pytest.mark.e2e


def _post(box: Sandbox, payload: dict[str, Any]) -> int:
    try:
        return box.meta.post_webhook(payload).status_code
    except httpx.TransportError:
        return 0


def _ready(box: Sandbox) -> int:
    return httpx.get(f"{box.url}/readyz", timeout=30).status_code


def _outage_and_return(box: Sandbox, cut: Callable[[], None], restore: Callable[[], None]) -> None:
    thread_ts = open_thread(box, "Hello")
    assert box.wait_idle()
    # Work is pending when the database goes: a message stored, its Slack post not made.
    box.slack.fail_all("chat.postMessage", status=500)
    assert box.meta.send_text(*ADA, "before") is not None
    assert box.slack.wait_for(lambda: len(box.slack.calls("chat.postMessage")) > 0)
    cut()
    box.slack.heal()
    during = box.meta.build_text_webhook(from_wa_id=ADA[0], name=ADA[1], text="during")
    answers = [_post(box, during) for _ in range(3)]
    assert answers == [503, 503, 503]
    assert _ready(box) == 503
    # An agent's reply cannot be stored either: Slack must not hear 200, or it never resends.
    reply = box.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="On it")
    assert reply.status not in (0, 200)
    restore()
    # Meta retries what was not answered 200: taken once the database is back.
    assert box.slack.wait_for(lambda: _post(box, during) == 200, timeout=60)
    assert _ready(box) == 200
    assert box.slack.redeliver(reply).status == 200
    assert box.meta.wait_for(lambda: sent_texts(box) == ["On it"], timeout=60)

    def customer() -> list[str]:
        return [t for t in thread_texts(box, thread_ts) if t in ("Hello", "before", "during")]

    assert box.slack.wait_for(lambda: customer() == ["Hello", "before", "during"], timeout=60)
    assert box.wait_idle()
    assert customer() == ["Hello", "before", "during"]
    assert sent_texts(box) == ["On it"]
    assert len(box.slack.top_level(CHANNEL)) == 1


@pytest.fixture
def proxied_database_url(migrated_database_url: str) -> Iterator[tuple[str, TcpProxy]]:
    url = make_url(migrated_database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(False), proxy


@pytest.mark.skipif(not USE_POSTGRES, reason="PostgreSQL behind a proxy")
def test_postgresql_gone_means_503_then_the_work_resumes(
    tmp_path: Path, proxied_database_url: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_database_url
    with Sandbox(workdir=tmp_path / "run", database_url=url) as box:
        _outage_and_return(box, proxy.cut, proxy.restore)


@pytest.mark.skipif(USE_POSTGRES, reason="SQLite's own disk")
def test_sqlite_disk_full_means_503_then_the_work_resumes(tmp_path: Path) -> None:
    with Sandbox(workdir=tmp_path / "run") as box:
        assert box.bridge is not None and box.bridge.pid is not None
        pid = box.bridge.pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)

        def disk_full() -> None:
            # No file of the bridge's may grow: every write of SQLite fails, as on a full disk.
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))

        def disk_freed() -> None:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))

        _outage_and_return(box, disk_full, disk_freed)
