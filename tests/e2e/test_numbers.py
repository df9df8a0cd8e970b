"""Several business numbers on the real process: a second number of another Meta app, added
with ``wabridge numbers add``, has its own channel, token and app secret."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.harness import CHANNEL, Sandbox
from tests.e2e.steps import ADA

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]

SALES = "2000000002"
SALES_CHANNEL = "C0SALES01"
SALES_TOKEN = "EAAG-the-sales-apps-own-token"
SALES_SECRET = "the-sales-apps-own-secret"


def _wabridge(box: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wabridge", *args],
        env=box.env(),
        cwd=box.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _add_sales(box: Sandbox, *credentials: str) -> subprocess.CompletedProcess[str]:
    """``wabridge numbers add`` for the sales number, as an operator types it."""
    return _wabridge(
        box,
        "numbers",
        "add",
        "--phone-number-id",
        SALES,
        "--display-number",
        "+49 30 1234567",
        "--waba-id",
        "3000000003",
        "--channel",
        SALES_CHANNEL,
        *credentials,
    )


def test_a_second_number_has_its_own_channel_token_and_secret(sandbox: Sandbox) -> None:
    box = sandbox
    box.slack.add_channel(SALES_CHANNEL, "sales")
    box.meta.add_phone_number(SALES, "49301234567")
    # Before it is added, a customer's message to it is kept and the operators are told.
    box.meta.post_webhook(
        box.meta.build_text_webhook(
            from_wa_id=ADA[0], name=ADA[1], text="What does it cost?", phone_number_id=SALES
        )
    )
    assert box.slack.wait_for(
        lambda: any("does not know" in m.text for m in box.slack.top_level(CHANNEL))
    )
    assert box.wait_idle()
    assert box.slack.top_level(SALES_CHANNEL) == []
    assert [m.text for m in box.slack.top_level(CHANNEL) if "What does it cost" in m.text] == []

    added = _add_sales(box, "--access-token", SALES_TOKEN, "--app-secret", SALES_SECRET)
    assert added.returncode == 0, added.stderr
    assert "1 webhooks kept for unknown numbers queued again" in added.stdout
    # From now on Meta signs its webhooks with the sales app's secret, and wants its token.
    box.meta.add_phone_number(
        SALES, "49301234567", access_token=SALES_TOKEN, app_secret=SALES_SECRET
    )

    # The kept message arrives in the number's own channel.
    assert box.slack.wait_for(lambda: len(box.slack.top_level(SALES_CHANNEL)) == 1)
    thread_ts = box.slack.top_level(SALES_CHANNEL)[0].ts
    assert box.slack.wait_for(
        lambda: any(
            "What does it cost?" in m.text for m in box.slack.thread(SALES_CHANNEL, thread_ts)
        )
    )
    box.meta.post_webhook(
        box.meta.build_text_webhook(
            from_wa_id=ADA[0], name=ADA[1], text="And shipping?", phone_number_id=SALES
        )
    )
    assert box.slack.wait_for(
        lambda: any("And shipping?" in m.text for m in box.slack.thread(SALES_CHANNEL, thread_ts))
    )
    # The reply leaves from the number the customer wrote to, with that app's token.
    box.slack.agent_reply(channel=SALES_CHANNEL, thread_ts=thread_ts, text="20 EUR")
    assert box.meta.wait_for(lambda: len(box.meta.sent_messages()) == 1)
    calls = [c for c in box.meta.calls(f"/{SALES}/messages") if c.status == 200]
    # The send, and the read receipts of the customer's messages: all with that app's token.
    sends = [c for c in calls if isinstance(c.json, dict) and c.json.get("type") == "text"]
    assert len(sends) == 1
    assert {c.headers["authorization"] for c in calls} == {f"Bearer {SALES_TOKEN}"}
    assert box.meta.sent_messages()[0]["text"]["body"] == "20 EUR"

    listed = _wabridge(box, "numbers", "list")
    assert SALES_TOKEN not in listed.stdout and SALES_SECRET not in listed.stdout
    assert box.bridge is not None
    log = box.bridge.log_path.read_text(errors="replace")
    assert SALES_TOKEN not in log and SALES_SECRET not in log


def test_a_channel_the_app_left_holds_up_only_its_own_work(sandbox: Sandbox) -> None:
    """The app removed from one number's channel: the other channels go on; that channel's
    messages wait, ``/wa status`` says why, and they arrive once the app is back."""
    box = sandbox
    box.slack.add_channel(SALES_CHANNEL, "sales", private=True)
    box.meta.add_phone_number(SALES, "49301234567")
    added = _add_sales(box)
    assert added.returncode == 0, added.stderr
    box.slack.remove_bot(SALES_CHANNEL)
    box.meta.post_webhook(
        box.meta.build_text_webhook(
            from_wa_id=ADA[0], name=ADA[1], text="What does it cost?", phone_number_id=SALES
        )
    )
    for n in range(3):
        box.meta.send_text(*ADA, f"Support question {n}")
    assert box.slack.wait_for(
        lambda: sum("Support question" in m.text for m in box.slack.messages(CHANNEL)) == 3
    )
    box.slack.slash_command("/wa", "status")
    assert box.slack.wait_for(lambda: len(box.slack.responses()) == 1)
    status = box.slack.responses()[0]["text"]
    # A private channel the app left is one Slack no longer shows it.
    assert "retrying: 1× post_customer_message (slack:channel_not_found)" in status, status
    assert "paused" not in box.slack.responses()[0]["text"]

    box.slack.add_bot(SALES_CHANNEL)  # an admin invites the app back
    assert box.slack.wait_for(
        lambda: any("What does it cost?" in m.text for m in box.slack.messages(SALES_CHANNEL)),
        timeout=30,
    )
