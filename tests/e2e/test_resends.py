"""The next step on a failure notice, on the real process: Meta keeps failing a reply until
the bridge gives up, the agent clicks Retry (twice), and the reply goes out once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.harness import CHANNEL, Sandbox
from sandbox.slack_state import SimMessage
from tests.e2e.steps import open_thread, sent_texts

pytestmark = pytest.mark.e2e

AGENT = "UAGENT1"


def _buttons(message: SimMessage) -> list[dict[str, Any]]:
    return [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.long
def test_retry_after_meta_kept_failing_sends_the_reply_once(
    tmp_path: Path, migrated_database_url: str
) -> None:
    # Retries give up after two seconds instead of a day.
    box = Sandbox(
        workdir=tmp_path / "run",
        database_url=migrated_database_url,
        extra_env={"WABRIDGE_RETRY_FOR": "2s"},
    )
    with box:
        thread_ts = open_thread(box, "Where is my parcel?")
        box.meta.fail_next(131000, "Something went wrong", http_status=500, count=1000)
        reply = box.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="It ships today")

        def notice() -> SimMessage | None:
            thread = box.slack.thread(CHANNEL, thread_ts)
            return next((m for m in thread if "Not delivered" in m.text), None)

        assert box.slack.wait_for(lambda: notice() is not None, timeout=30)
        assert box.slack.wait_for(lambda: "x" in box.slack.reactions(CHANNEL, reply.ts))
        failed = notice()
        assert failed is not None and "131000" in failed.text
        [button] = _buttons(failed)
        assert (button["action_id"], button["text"]["text"]) == ("wa_retry_send", "Retry")
        assert box.wait_idle()
        assert sent_texts(box) == []
        box.meta.reset()  # Meta works again

        started = time.monotonic()
        for _ in range(2):  # a double click
            clicked = box.slack.block_action(
                user=AGENT,
                channel=CHANNEL,
                message_ts=failed.ts,
                thread_ts=thread_ts,
                action_id=button["action_id"],
                value=button["value"],
            )
            assert clicked.status == 200
        assert time.monotonic() - started < 3  # both acked well inside Slack's 3 seconds
        assert box.meta.wait_for(lambda: sent_texts(box) == ["It ships today"])
        assert box.slack.wait_for(
            lambda: "heavy_check_mark" in box.slack.reactions(CHANNEL, reply.ts)
        )
        assert box.wait_idle()

        assert sent_texts(box) == ["It ships today"]  # once, for two clicks
        assert "x" not in box.slack.reactions(CHANNEL, reply.ts)
        used = box.slack.message(CHANNEL, failed.ts)
        assert used is not None and not _buttons(used)
        line = str((used.blocks or [])[-1]["elements"][0]["text"])
        assert f"<@{AGENT}>" in line and "ent again" in line
