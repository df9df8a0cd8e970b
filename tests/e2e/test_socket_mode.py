"""Socket Mode on the real process: no public Slack URL, the same listeners."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.harness import CHANNEL, Sandbox
from sandbox.slack_socket import SocketEnvelope
from tests.e2e.steps import open_thread, sent_texts

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]

APP_TOKEN = "xapp-1-sandbox-app-token-0123456789"


@pytest.fixture
def socket_box(tmp_path: Path, migrated_database_url: str) -> Iterator[Sandbox]:
    box = Sandbox(
        workdir=tmp_path / "run",
        database_url=migrated_database_url,
        slack_options={"app_token": APP_TOKEN, "socket_mode": True},
        # No signing secret: Socket Mode does not need one.
        extra_env={"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""},
    )
    with box:
        yield box


def test_replies_commands_and_modals_arrive_over_the_socket(socket_box: Sandbox) -> None:
    box = socket_box
    assert box.slack.wait_for(lambda: any(c.is_open for c in box.slack.socket_connections()))
    thread_ts = open_thread(box)

    reply = box.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Over the socket")
    assert reply.envelope is not None
    assert box.meta.wait_for(lambda: sent_texts(box) == ["Over the socket"])

    answer = box.slack.slash_command("/wa", "help")
    assert answer.status == 200  # acked over the socket
    assert box.slack.wait_for(lambda: any("/wa status" in r["text"] for r in box.slack.responses()))

    box.slack.message_shortcut(
        callback_id="wa_send_template", channel=CHANNEL, message_ts=thread_ts, user="UAGENT1"
    )
    assert box.slack.wait_for(lambda: any(v["method"] == "views.open" for v in box.slack.views()))
    envelopes = box.slack.envelopes()
    assert {e.type for e in envelopes} >= {"events_api", "slash_commands", "interactive"}
    assert all(e.acked for e in envelopes)

    # Slack's HTTP endpoint is not served: no signing secret, no Request URL needed.
    assert httpx.post(f"{box.url}/slack/events", content=b"{}").status_code == 404
    assert box.wait_idle()
    assert sent_texts(box) == ["Over the socket"]


def test_an_envelope_whose_token_check_failed_is_sent_again_and_taken_once(
    socket_box: Sandbox,
) -> None:
    """bolt answers an event 200 when its auth.test fails; acked so, Slack would never send
    it again and the reply would be lost."""
    box = socket_box
    thread_ts = open_thread(box)
    assert box.wait_idle()
    assert box.bridge is not None
    opened = len(box.slack.socket_connections())
    box.bridge.kill()
    box.bridge.start()  # a new process: its token not checked yet
    assert box.slack.wait_for(
        lambda: (
            len(box.slack.socket_connections()) > opened
            and box.slack.socket_connections()[-1].is_open
        )
    )
    box.slack.socket_ack_timeout, box.slack.socket_retry_delay = 2.0, 0.5
    box.slack.fail_next("auth.test", status=500)
    reply = box.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Still there?")
    assert reply.envelope is not None
    assert reply.envelope.attempts == (0, 1)  # left unacked once, then sent again and acked
    assert reply.envelope.acked
    assert box.meta.wait_for(lambda: sent_texts(box) == ["Still there?"], timeout=30)
    assert box.wait_idle()
    assert sent_texts(box) == ["Still there?"]


def test_the_bridges_own_posts_coming_back_over_the_socket_are_acked_at_once(
    socket_box: Sandbox,
) -> None:
    """Acked before bolt, which would first check its token: here every check fails, and
    bolt's envelopes are left for Slack to send again, but the echoes are acked."""
    box = socket_box
    assert box.slack.wait_for(lambda: any(c.is_open for c in box.slack.socket_connections()))
    box.slack.fail_all("auth.test", status=500)
    open_thread(box)  # the bridge posts the thread's parent and the customer's message

    def echoes() -> list[SocketEnvelope]:
        return [
            e
            for e in box.slack.envelopes()
            if e.type == "events_api" and e.payload.get("event", {}).get("bot_id")
        ]

    assert box.slack.wait_for(lambda: len(echoes()) >= 2 and all(e.acked for e in echoes()))
    assert box.slack.calls("auth.test") == []
