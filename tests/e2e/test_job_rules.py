"""The job rules on the real process: a permanent Slack error fails alone, a Meta 500 keeps the
reply's place, auth errors pause and resume, and order holds across worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.harness import CHANNEL, Sandbox
from tests.dbutil import USE_POSTGRES
from tests.e2e.steps import ADA, open_thread, sent_texts, thread_texts

pytestmark = pytest.mark.e2e


def _deadletters(box: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wabridge", "deadletters", *args],
        env=box.env(),
        cwd=box.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.long
def test_a_permanent_slack_error_fails_alone_and_shows_in_deadletters(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    # The agent's message is gone by the time its delivery would show: Slack refuses for good.
    sandbox.slack.error_all("reactions.add", "message_not_found")
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Checking now")
    assert sandbox.meta.wait_for(lambda: sent_texts(sandbox) == ["Checking now"])
    for text in ("Any news?", "Hello??"):
        sandbox.meta.send_text(*ADA, text)
    assert sandbox.slack.wait_for(
        lambda: thread_texts(sandbox, thread_ts)[-2:] == ["Any news?", "Hello??"]
    )
    assert sandbox.wait_idle()

    listed = _deadletters(sandbox, "list")
    assert listed.returncode == 0, listed.stderr
    # One display job per status change (sent, delivered, read), each refused for good.
    lines = [row for row in listed.stdout.splitlines() if "show_delivery" in row]
    assert lines and all(
        line.startswith("job:") and "slack:message_not_found" in line for line in lines
    )
    assert len(listed.stdout.splitlines()) == len(lines)  # nothing else failed
    ref = lines[0].split()[0]
    shown = _deadletters(sandbox, "show", ref)
    assert shown.returncode == 0 and '"message_id"' in shown.stdout

    metrics = httpx.get(f"{sandbox.url}/metrics").text
    assert 'wabridge_failed{kind="show_delivery",reason="slack:message_not_found"}' in metrics

    sandbox.slack.heal()
    replayed = _deadletters(sandbox, "replay", "--all")
    assert replayed.returncode == 0 and f"{ref} queued again" in replayed.stdout
    assert sandbox.wait_idle()
    assert _deadletters(sandbox, "show", ref).returncode == 1  # it ended well this time
    assert "no dead letters" in _deadletters(sandbox, "list").stdout


def test_meta_500_on_the_first_of_two_quick_replies_keeps_the_order(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    sandbox.meta.fail_next(131000, "Something went wrong", http_status=500)
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="first")
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="second")
    assert sandbox.meta.wait_for(lambda: len(sent_texts(sandbox)) == 2, timeout=20)
    assert sent_texts(sandbox) == ["first", "second"]
    assert sandbox.wait_idle()
    assert sent_texts(sandbox) == ["first", "second"]


def test_a_revoked_slack_token_pauses_slack_work_until_it_works_again(sandbox: Sandbox) -> None:
    sandbox.slack.error_all("chat.postMessage", "token_revoked")
    sandbox.meta.send_text(*ADA, "Anyone?")
    assert sandbox.slack.wait_for(
        lambda: httpx.get(f"{sandbox.url}/readyz").json().get("status") == "degraded", timeout=20
    )
    ready = httpx.get(f"{sandbox.url}/readyz")
    assert ready.status_code == 200  # webhooks are still stored
    assert "token_revoked" in ready.json()["paused"][0]["reason"]
    assert sandbox.bridge is not None
    assert sandbox.bridge.log_path.read_text().count("slack work paused") == 1

    sandbox.slack.heal()  # the token works again: the next probe resumes the work
    assert sandbox.slack.wait_for(
        lambda: "Anyone?" in [m.text for m in sandbox.slack.messages(CHANNEL)], timeout=60
    )
    assert httpx.get(f"{sandbox.url}/readyz").json()["status"] == "ready"


def test_agent_text_reaches_the_customer_as_the_agent_meant_it(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    sandbox.slack.add_user("U0LEA", "Lea Martin", "Lea")
    typed = (
        "Hi! *Bold* &amp; <https://shop.example/o/42|your order> :+1: "
        "<@U0LEA> will call you <!here>"
    )
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text=typed)
    assert sandbox.meta.wait_for(lambda: len(sent_texts(sandbox)) == 1)
    assert sent_texts(sandbox) == [
        "Hi! *Bold* & your order (https://shop.example/o/42) 👍 @Lea will call you"
    ]


def test_a_6000_character_reply_goes_out_in_two_parts(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    long = "\n\n".join(f"Step {n}. " + "Please check the settings page. " * 30 for n in range(6))
    assert len(long) > 5000
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text=long)
    assert sandbox.meta.wait_for(lambda: len(sent_texts(sandbox)) == 2, timeout=30)
    assert all(len(part) <= 4096 for part in sent_texts(sandbox))
    assert " ".join(sent_texts(sandbox)).split() == long.split()
    assert sandbox.slack.wait_for(
        lambda: any("2 parts" in text for text in thread_texts(sandbox, thread_ts)), timeout=30
    )


@pytest.mark.skipif(not USE_POSTGRES, reason="several worker processes need PostgreSQL")
@pytest.mark.long
def test_two_worker_processes_keep_every_order(tmp_path: Path, migrated_database_url: str) -> None:
    box = Sandbox(
        workdir=tmp_path / "run",
        database_url=migrated_database_url,
        roles=("web", "worker", "worker"),
    )
    with box:
        for n in range(1, 6):  # separate webhooks, in the same second, for two workers
            box.meta.send_text(*ADA, f"customer {n}")
        assert box.slack.wait_for(lambda: len(box.slack.top_level(CHANNEL)) == 1, timeout=30)
        thread_ts = box.slack.top_level(CHANNEL)[0].ts
        assert box.slack.wait_for(lambda: len(thread_texts(box, thread_ts)) == 5, timeout=30)
        assert thread_texts(box, thread_ts) == [f"customer {n}" for n in range(1, 6)]

        box.meta.fail_next(131000, "Something went wrong", http_status=500)
        for n in range(1, 5):
            box.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text=f"reply {n}")
        assert box.meta.wait_for(lambda: len(sent_texts(box)) == 4, timeout=30)
        assert box.wait_idle()
        assert sent_texts(box) == [f"reply {n}" for n in range(1, 5)]
        assert len(box.slack.top_level(CHANNEL)) == 1
    assert os.path.exists(box.workdir / "bridge-worker.log")
