"""End to end: ``wabridge serve`` as a real process against the Meta and Slack simulators."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from sandbox.harness import (
    ACCESS_TOKEN,
    API_TOKEN,
    APP_SECRET,
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    Sandbox,
)
from tests.e2e.steps import ADA, open_thread, thread_texts

pytestmark = pytest.mark.e2e


def test_whole_conversation(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox, "Where is my order?")
    parent = sandbox.slack.top_level(CHANNEL)[0]
    assert "Ada" in parent.text and "+4915112345678" in parent.text

    reply = sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="On its way!")
    assert sandbox.meta.wait_for(
        lambda: [m["text"]["body"] for m in sandbox.meta.sent_messages()] == ["On its way!"]
    )
    assert sandbox.meta.wait_for(lambda: len(sandbox.meta.read_marks()) == 1)
    wanted = {"heavy_check_mark", "mailbox_with_mail", "eyes"}
    assert sandbox.slack.wait_for(lambda: wanted <= set(sandbox.slack.reactions(CHANNEL, reply.ts)))

    # The REST API sees the same conversation.
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    conversations = httpx.get(f"{sandbox.url}/api/v1/conversations", headers=auth).json()
    assert [c["slack_thread_ts"] for c in conversations] == [thread_ts]
    messages = httpx.get(
        f"{sandbox.url}/api/v1/conversations/{conversations[0]['id']}/messages", headers=auth
    ).json()
    assert [(m["direction"], m["status"]) for m in messages] == [
        ("inbound", "received"),
        ("outbound", "read"),
    ]

    # The process's own /metrics saw its calls and timed both relays.
    metrics = httpx.get(f"{sandbox.url}/metrics").text
    assert "wabridge_relay_inbound_seconds_count 1.0" in metrics
    assert "wabridge_relay_outbound_seconds_count 1.0" in metrics
    assert 'wabridge_slack_calls_total{method="chat.postMessage",outcome="ok"}' in metrics
    assert 'wabridge_meta_calls_total{method="POST messages",outcome="ok"}' in metrics

    # One event per line, ids as fields, and no secret anywhere in the log.
    assert sandbox.bridge is not None
    log = sandbox.bridge.log_path.read_text()
    assert "inbound stored conversation_id=1 message_id=1" in log
    for secret in (ACCESS_TOKEN, APP_SECRET, BOT_TOKEN, SIGNING_SECRET, API_TOKEN):
        assert secret not in log


def test_reply_outside_the_window_is_refused(sandbox: Sandbox) -> None:
    yesterday = int(time.time()) - 25 * 3600
    sandbox.meta.send_text(*ADA, "Old question", timestamp=yesterday)
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    thread_ts = sandbox.slack.top_level(CHANNEL)[0].ts
    assert sandbox.slack.wait_for(lambda: "Old question" in thread_texts(sandbox, thread_ts))
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Too late?")
    assert sandbox.slack.wait_for(
        lambda: any("window closed" in t for t in thread_texts(sandbox, thread_ts))
    )
    assert sandbox.wait_idle()
    assert sandbox.meta.sent_messages() == []


def test_notes_and_bot_posts_are_not_sent(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="// internal: VIP")
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Real answer")
    assert sandbox.meta.wait_for(lambda: len(sandbox.meta.sent_messages()) == 1)
    assert sandbox.wait_idle()
    # The bridge's own posts (echoed back by Slack as events) never reach the customer.
    assert [m["text"]["body"] for m in sandbox.meta.sent_messages()] == ["Real answer"]


def test_same_webhook_twice_gives_one_post(sandbox: Sandbox) -> None:
    payload = sandbox.meta.build_text_webhook(from_wa_id=ADA[0], name=ADA[1], text="Once")
    assert sandbox.meta.post_webhook(payload).status_code == 200
    assert sandbox.meta.post_webhook(payload).status_code == 200
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.messages(CHANNEL)) >= 2)
    assert sandbox.wait_idle()
    assert [m.text for m in sandbox.slack.messages(CHANNEL)].count("Once") == 1


def test_batch_of_three_gives_three_posts_in_order(sandbox: Sandbox) -> None:
    payload = sandbox.meta.build_batch_webhook(
        [
            {"from_wa_id": ADA[0], "name": ADA[1], "text": "one"},
            {"from_wa_id": ADA[0], "name": ADA[1], "text": "two"},
            {"from_wa_id": ADA[0], "name": ADA[1], "text": "three"},
        ]
    )
    assert sandbox.meta.post_webhook(payload).status_code == 200
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    thread_ts = sandbox.slack.top_level(CHANNEL)[0].ts
    assert sandbox.slack.wait_for(lambda: len(thread_texts(sandbox, thread_ts)) == 3)
    assert thread_texts(sandbox, thread_ts) == ["one", "two", "three"]


def test_redelivered_slack_event_sends_once(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    event = sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Just once")
    again = sandbox.slack.redeliver(event)
    assert again.status == 200
    assert sandbox.meta.wait_for(lambda: len(sandbox.meta.sent_messages()) == 1)
    assert sandbox.wait_idle()
    assert len(sandbox.meta.sent_messages()) == 1


def test_bad_signature_is_refused_and_nothing_posted(sandbox: Sandbox) -> None:
    payload = sandbox.meta.build_text_webhook(from_wa_id=ADA[0], name=ADA[1], text="forged")
    response = sandbox.meta.post_webhook(payload, signature="sha256=" + "0" * 64)
    assert response.status_code == 401
    assert sandbox.wait_idle()
    assert sandbox.slack.messages(CHANNEL) == []


def test_kill_9_after_200_while_slack_fails_then_restart_posts_exactly_once(
    sandbox: Sandbox,
) -> None:
    sandbox.slack.fail_all("chat.postMessage", status=500)
    payload = sandbox.meta.build_text_webhook(from_wa_id=ADA[0], name=ADA[1], text="Survive")
    assert sandbox.meta.post_webhook(payload).status_code == 200
    # Let the outbox try (and fail) at least once, then crash hard.
    assert sandbox.slack.wait_for(
        lambda: any(not c.ok for c in sandbox.slack.calls("chat.postMessage"))
    )
    assert sandbox.bridge is not None
    sandbox.bridge.kill()
    assert sandbox.slack.messages(CHANNEL) == []

    sandbox.slack.heal()
    sandbox.start_bridge()
    assert sandbox.slack.wait_for(
        # A claim held by the killed process runs out after the job lease (15 s).
        lambda: "Survive" in [m.text for m in sandbox.slack.messages(CHANNEL)],
        timeout=45,
    )
    assert sandbox.wait_idle()
    texts = [m.text for m in sandbox.slack.messages(CHANNEL)]
    assert texts.count("Survive") == 1
    assert len(sandbox.slack.top_level(CHANNEL)) == 1


def test_missing_configuration_exits_2_with_one_line(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wabridge", "serve"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wabridge: META_ACCESS_TOKEN is required but not set"
    ]
    assert "Traceback" not in result.stderr


def test_meta_refusal_shows_failure_reaction_and_reason(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    sandbox.meta.fail_next(131026, "Message undeliverable", details="Receiver is incapable")
    reply = sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Hello?")
    assert sandbox.slack.wait_for(lambda: "x" in sandbox.slack.reactions(CHANNEL, reply.ts))
    assert sandbox.slack.wait_for(
        lambda: any(
            "131026" in t and "undeliverable" in t for t in thread_texts(sandbox, thread_ts)
        )
    )
    assert sandbox.meta.sent_messages() == []


def test_late_failed_status_shows_on_the_reply(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    sandbox.meta.fail_next_sends_with_status(code=131047, title="Re-engagement message")
    reply = sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Hi again")
    assert sandbox.slack.wait_for(lambda: "x" in sandbox.slack.reactions(CHANNEL, reply.ts))
    assert sandbox.slack.wait_for(
        lambda: any("131047" in t for t in thread_texts(sandbox, thread_ts))
    )


def test_quick_replies_arrive_in_order(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    for n in range(1, 5):
        sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text=f"line {n}")
    assert sandbox.meta.wait_for(lambda: len(sandbox.meta.sent_messages()) == 4)
    assert [m["text"]["body"] for m in sandbox.meta.sent_messages()] == [
        f"line {n}" for n in range(1, 5)
    ]


def test_slack_rate_limit_delays_the_post_and_loses_nothing(sandbox: Sandbox) -> None:
    sandbox.slack.rate_limit_next("chat.postMessage", count=2, retry_after=1)
    sandbox.meta.send_text(*ADA, "Patience")
    assert sandbox.slack.wait_for(
        lambda: "Patience" in [m.text for m in sandbox.slack.messages(CHANNEL)], timeout=20
    )
    limited = [c for c in sandbox.slack.calls("chat.postMessage") if c.status == 429]
    assert len(limited) == 2
    assert sandbox.wait_idle()
    assert [m.text for m in sandbox.slack.messages(CHANNEL)].count("Patience") == 1


def test_editing_a_sent_reply_tells_the_agent_it_was_not_delivered(sandbox: Sandbox) -> None:
    thread_ts = open_thread(sandbox)
    reply = sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Tomorow")
    assert sandbox.meta.wait_for(lambda: len(sandbox.meta.sent_messages()) == 1)
    sandbox.slack.agent_edit(CHANNEL, reply.ts, "Tomorrow")
    assert sandbox.slack.wait_for(
        lambda: any("edit was *not* sent" in t for t in thread_texts(sandbox, thread_ts))
    )
    sandbox.slack.agent_delete(CHANNEL, reply.ts)
    assert sandbox.slack.wait_for(
        lambda: any("Deleted here only" in t for t in thread_texts(sandbox, thread_ts))
    )
    assert sandbox.wait_idle()
    assert [m["text"]["body"] for m in sandbox.meta.sent_messages()] == ["Tomorow"]


def test_a_customer_picture_arrives_in_the_thread_as_a_file(sandbox: Sandbox) -> None:
    picture = bytes(range(256)) * 400  # 100 KB
    sandbox.meta.add_media("4400000000000001", picture, "image/jpeg")
    payload = sandbox.meta.build_media_webhook(
        from_wa_id=ADA[0],
        name=ADA[1],
        media_id="4400000000000001",
        kind="image",
        caption="the damaged box",
    )
    assert sandbox.meta.post_webhook(payload).status_code == 200
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    thread_ts = sandbox.slack.top_level(CHANNEL)[0].ts

    def shared() -> list[dict[str, object]]:
        return [f for m in sandbox.slack.thread(CHANNEL, thread_ts) for f in (m.files or [])]

    assert sandbox.slack.wait_for(lambda: len(shared()) == 1, timeout=20)
    [file] = shared()
    assert sandbox.slack.file_content(str(file["id"])) == picture
    assert str(file["name"]).endswith(".jpg")
    texts = thread_texts(sandbox, thread_ts)
    assert "the damaged box" in texts[0]
    assert sandbox.wait_idle()
    assert len(shared()) == 1


def test_a_customer_reacts_edits_and_deletes_and_the_post_follows(sandbox: Sandbox) -> None:
    wamid = sandbox.meta.send_text(*ADA, "My parcel is late")
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    thread_ts = sandbox.slack.top_level(CHANNEL)[0].ts
    assert sandbox.slack.wait_for(lambda: "My parcel is late" in thread_texts(sandbox, thread_ts))
    post = sandbox.slack.thread(CHANNEL, thread_ts)[0].ts

    def change(kind: str, body: dict[str, object]) -> None:
        payload = sandbox.meta.build_message_webhook(
            from_wa_id=ADA[0], name=ADA[1], message={"type": kind, kind: body}
        )
        assert sandbox.meta.post_webhook(payload).status_code == 200

    change("reaction", {"message_id": wamid, "emoji": "\N{THUMBS UP SIGN}"})
    assert sandbox.slack.wait_for(lambda: sandbox.slack.reactions(CHANNEL, post) == ["+1"])
    change("reaction", {"message_id": wamid, "emoji": ""})
    assert sandbox.slack.wait_for(lambda: sandbox.slack.reactions(CHANNEL, post) == [])

    edit = {"original_message_id": wamid, "message": {"type": "text", "text": {"body": "Found it"}}}
    change("edit", edit)
    assert sandbox.slack.wait_for(lambda: "Found it" in thread_texts(sandbox, thread_ts)[0])
    change("revoke", {"original_message_id": wamid})
    assert sandbox.slack.wait_for(lambda: "deleted" in thread_texts(sandbox, thread_ts)[0])
    assert sandbox.wait_idle()
    assert len(sandbox.slack.thread(CHANNEL, thread_ts)) == 1  # changed in place, no new lines


def test_an_edit_that_overtakes_its_message_lands_on_that_message(sandbox: Sandbox) -> None:
    """Meta's webhooks may come in another order than the customer's: the edit first."""
    sandbox.meta.send_text(*ADA, "Hello")
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    thread_ts = sandbox.slack.top_level(CHANNEL)[0].ts
    now = int(time.time())

    def deliver(message: dict[str, object], wamid: str, at: int) -> None:
        payload = sandbox.meta.build_message_webhook(
            from_wa_id=ADA[0], name=ADA[1], message=message, timestamp=at, wamid=wamid
        )
        assert sandbox.meta.post_webhook(payload).status_code == 200

    edited = {"type": "text", "text": {"body": "Order #5521, not #5512"}}
    deliver(
        {"type": "edit", "edit": {"original_message_id": "wamid.X1", "message": edited}},
        "wamid.X2",
        now + 2,
    )
    deliver({"type": "text", "text": {"body": "Order #5512"}}, "wamid.X1", now + 1)
    assert sandbox.slack.wait_for(
        lambda: thread_texts(sandbox, thread_ts)[1:] == ["Order #5521, not #5512 _(edited)_"]
    ), thread_texts(sandbox, thread_ts)
    assert sandbox.wait_idle()
    assert len(sandbox.slack.thread(CHANNEL, thread_ts)) == 2  # no line of its own
