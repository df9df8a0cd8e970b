"""End to end: statuses past read, statuses for messages never sent, and news about the
account, from Meta's simulator through ``wabridge serve`` to the Slack simulator."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.harness import API_TOKEN, CHANNEL, Sandbox
from tests.e2e.steps import ADA, open_thread

pytestmark = pytest.mark.e2e


def test_a_played_voice_note_and_account_news_reach_slack(sandbox: Sandbox) -> None:
    meta, slack = sandbox.meta, sandbox.slack
    thread_ts = open_thread(sandbox, "Did you get my voice note?")
    reply = slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Listen to mine")
    assert meta.wait_for(lambda: len(meta.sends()) == 1)
    [(wamid, _)] = meta.sends()
    read = {"heavy_check_mark", "mailbox_with_mail", "eyes"}
    assert slack.wait_for(lambda: read <= set(slack.reactions(CHANNEL, reply.ts)))

    # The customer plays it: a stage of its own on the agent's message.
    played = meta.build_status_webhook(wamid=wamid, status="played", recipient_id=ADA[0])
    assert meta.post_webhook(played).status_code == 200
    assert slack.wait_for(lambda: "headphones" in slack.reactions(CHANNEL, reply.ts))
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    [conversation] = httpx.get(f"{sandbox.url}/api/v1/conversations", headers=auth).json()
    messages = httpx.get(
        f"{sandbox.url}/api/v1/conversations/{conversation['id']}/messages", headers=auth
    ).json()
    assert [m["status"] for m in messages] == ["received", "read"]  # the contract's words
    assert messages[1]["pricing_category"] == "service"

    # A status for a message this bridge never sent: counted, nothing posted.
    stray = meta.build_status_webhook(
        wamid="wamid.NOT-OURS", status="read", recipient_id=ADA[0], timestamp=int(time.time()) - 600
    )
    assert meta.post_webhook(stray).status_code == 200

    # News about the account: a message of its own in the channel, once.
    violation = meta.build_account_update_webhook(
        "ACCOUNT_VIOLATION", violation_info={"violation_type": "SCAM"}
    )
    assert meta.post_webhook(violation).status_code == 200
    assert meta.post_webhook(violation).status_code == 200  # Meta retries: no second notice
    flagged = meta.build_phone_number_quality_webhook("FLAGGED", current_limit="TIER_1K")
    assert meta.post_webhook(flagged).status_code == 200
    assert slack.wait_for(lambda: len(slack.top_level(CHANNEL)) == 3)
    assert sandbox.wait_idle()

    parent, *notices = slack.top_level(CHANNEL)
    assert parent.ts == thread_ts
    [violation_text] = [n.text for n in notices if "policy violation" in n.text]
    assert "policy violation (scam)" in violation_text and meta.waba_id in violation_text
    [quality_text] = [n.text for n in notices if "quality rating" in n.text]
    assert f"quality rating of +{meta.display_phone_number} is low" in quality_text
    assert len(slack.thread(CHANNEL, thread_ts)) == 2  # the customer's message and the reply
    metrics = httpx.get(f"{sandbox.url}/metrics").text
    assert "wabridge_statuses_unknown_total 1.0" in metrics
