"""End to end: an integration sends through the REST API of ``wabridge serve``; the customer
gets it at Meta's simulator and the agents see it in the thread, once, however often it is
retried."""

from __future__ import annotations

import httpx
import pytest

from sandbox.harness import API_TOKEN, Sandbox
from tests.e2e.steps import open_thread, sent_texts, thread_texts

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_a_message_sent_through_the_api_reaches_the_customer_and_the_thread_once(
    sandbox: Sandbox,
) -> None:
    thread_ts = open_thread(sandbox, "Is my parcel on its way?")
    [conversation] = httpx.get(f"{sandbox.url}/api/v1/conversations", headers=AUTH).json()
    url = f"{sandbox.url}/api/v1/conversations/{conversation['id']}/messages"
    body = {"message_type": "text", "content": {"text": "Yes: it ships today."}}
    headers = {**AUTH, "Idempotency-Key": "parcel-123-shipped"}

    first = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "pending" and first.json()["sender_type"] == "bot"
    assert sandbox.meta.wait_for(lambda: sent_texts(sandbox) == ["Yes: it ships today."])
    assert sandbox.slack.wait_for(
        lambda: any(
            "Sent through the API" in t and "Yes: it ships today." in t
            for t in thread_texts(sandbox, thread_ts)
        )
    )

    # The integration did not hear the answer and tries again: the same message, not another.
    again = httpx.post(url, json=body, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())  # the first answer
    assert again.headers["idempotent-replayed"] == "true"
    assert sandbox.wait_idle()
    assert sent_texts(sandbox) == ["Yes: it ships today."]
    assert sum("Sent through the API" in t for t in thread_texts(sandbox, thread_ts)) == 1

    # What the REST API shows now: sent, with WhatsApp's id, and counted for the agents' side.
    messages = httpx.get(url, headers=AUTH).json()
    ours = messages[-1]
    assert ours["id"] == first.json()["id"] and ours["sender_type"] == "bot"
    assert ours["status"] in {"sent", "delivered", "read"}
    assert ours["whatsapp_message_id"] is not None
    detail = httpx.get(f"{sandbox.url}/api/v1/conversations/{conversation['id']}", headers=AUTH)
    assert detail.json()["messages_from_agents"] == 1 and detail.json()["window_open"] is True
