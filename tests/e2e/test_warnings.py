"""Window warnings and the parent's window state, on the real process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox.harness import CHANNEL, Sandbox
from tests.dbutil import USE_POSTGRES
from tests.e2e.steps import ADA, thread_texts

pytestmark = pytest.mark.e2e

#: Scan often, so the test need not wait a minute.
FAST = {"WABRIDGE_SCAN_INTERVAL": "1s"}


def _warnings(box: Sandbox, thread_ts: str) -> list[str]:
    return [t for t in thread_texts(box, thread_ts) if "window closes in" in t]


def _customer_wrote_hours_ago(box: Sandbox, hours: float) -> str:
    box.meta.send_text(*ADA, "Are you there?", timestamp=int(time.time() - hours * 3600))
    assert box.slack.wait_for(lambda: len(box.slack.top_level(CHANNEL)) == 1, timeout=20)
    return box.slack.top_level(CHANNEL)[0].ts


@pytest.mark.long
def test_a_window_closing_soon_is_warned_once_and_the_parent_shows_it(
    tmp_path: Path, migrated_database_url: str
) -> None:
    box = Sandbox(workdir=tmp_path / "run", database_url=migrated_database_url, extra_env=FAST)
    with box:
        thread_ts = _customer_wrote_hours_ago(box, 22.5)  # 1 h 30 min left: the 2 h mark
        assert box.slack.wait_for(lambda: len(_warnings(box, thread_ts)) == 1, timeout=20)
        [warning] = _warnings(box, thread_ts)
        assert "closes in 1 h 29 min" in warning or "closes in 1 h 30 min" in warning
        assert "`order_update` (en)" in warning  # the templates were synced at start
        parent = box.slack.message(CHANNEL, thread_ts)
        assert parent is not None and "Window open until" in parent.text
        # Let two more scans run (one a second), then settle: still one warning per mark.
        time.sleep(2.5)
        assert box.wait_idle()
        assert len(_warnings(box, thread_ts)) == 1


@pytest.mark.skipif(not USE_POSTGRES, reason="two scheduler processes need PostgreSQL")
@pytest.mark.long
def test_two_scheduler_processes_warn_exactly_once(
    tmp_path: Path, migrated_database_url: str
) -> None:
    box = Sandbox(
        workdir=tmp_path / "run",
        database_url=migrated_database_url,
        extra_env=FAST,
        roles=("web", "worker", "scheduler", "scheduler"),
    )
    with box:
        thread_ts = _customer_wrote_hours_ago(box, 23.6)  # 24 min left: the 30 min mark
        assert box.slack.wait_for(lambda: len(_warnings(box, thread_ts)) == 1, timeout=30)
        time.sleep(3)  # let both schedulers scan several more times, then settle
        assert box.wait_idle()
        assert len(_warnings(box, thread_ts)) == 1
        assert len(box.meta.calls("message_templates")) == 1  # one hourly sync, not two
