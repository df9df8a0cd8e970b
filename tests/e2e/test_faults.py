"""The fault run, short: customers and agents talk through the real process while Slack and
Meta fail calls and the bridge is killed with SIGKILL; nothing is lost, nothing is twice,
nothing is out of order (``sandbox/faults.py``; ``bench/faults.py`` runs the full one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.faults import FaultRun, run_faults
from sandbox.harness import CHANNEL, Sandbox
from tests.dbutil import USE_POSTGRES
from tests.e2e.steps import open_thread, sent_texts

pytestmark = pytest.mark.e2e

SHORT = FaultRun(
    inbound=40, conversations=5, replies=15, numbers=5, kills=3, rate=10.0, drain_timeout=120
)


def _run(config: FaultRun, tmp_path: Path, database_url: str) -> None:
    report = run_faults(config, workdir=tmp_path / "run", database_url=database_url)
    assert report.ok, "\n".join(report.lines())
    assert report.kills == config.kills
    assert report.inbound_posted == config.inbound
    assert report.replies_delivered + report.replies_asked == config.replies
    assert sum(report.faults_hit.values()) > 0


@pytest.mark.long
@pytest.mark.skipif(USE_POSTGRES, reason="on PostgreSQL the run below has two workers")
def test_nothing_is_lost_or_twice_across_kills_and_faults(
    tmp_path: Path, migrated_database_url: str
) -> None:
    _run(SHORT, tmp_path, migrated_database_url)


@pytest.mark.skipif(not USE_POSTGRES, reason="several worker processes need PostgreSQL")
@pytest.mark.long
def test_two_workers_lose_nothing_across_kills_and_faults(
    tmp_path: Path, migrated_database_url: str
) -> None:
    _run(FaultRun(**{**SHORT.__dict__, "workers": 2, "seed": 2}), tmp_path, migrated_database_url)


def test_a_slack_event_the_bridge_could_not_authorize_is_refused_so_slack_retries(
    sandbox: Sandbox,
) -> None:
    # Found by the fault run: bolt checks its token with auth.test on the first request a
    # process gets, and when Slack fails that call it answered 200 and dropped the event.
    thread_ts = open_thread(sandbox)
    assert sandbox.wait_idle()
    assert sandbox.bridge is not None
    sandbox.bridge.kill()
    sandbox.bridge.start()  # a new process: its token not checked yet
    sandbox.slack.fail_next("auth.test", status=500)
    event = sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Still there?")
    assert event.status == 503
    assert sandbox.slack.redeliver(event).status == 200
    assert sandbox.meta.wait_for(lambda: sent_texts(sandbox) == ["Still there?"])
    assert sandbox.wait_idle()
    assert sent_texts(sandbox) == ["Still there?"]
