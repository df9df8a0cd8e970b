"""End to end: what an agent does in a thread beyond typing reaches the customer. Files go
out as WhatsApp media (uploaded to Meta first), a link to or a quote of the customer's
message makes a WhatsApp reply to it, and reactions are sent as reactions; the bridge's own
reactions never are. Also: a picture sent through the REST API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.harness import API_TOKEN, CHANNEL, Sandbox
from tests.e2e.steps import ADA, thread_texts

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]

#: A small PNG's worth of bytes (the signature, then anything: Meta's simulator keeps them).
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n% invoice 2024-117\n" + b"0" * 3000
DELIVERED = {"heavy_check_mark", "mailbox_with_mail"}


def _customer_writes(box: Sandbox, text: str = "My parcel is late") -> tuple[str, str, str]:
    """Ada writes; returns her thread, the Slack post of her message and its wamid."""
    wamid = box.meta.send_text(*ADA, text)
    assert box.slack.wait_for(lambda: len(box.slack.top_level(CHANNEL)) == 1)
    thread_ts = box.slack.top_level(CHANNEL)[0].ts
    assert box.slack.wait_for(lambda: text in thread_texts(box, thread_ts))
    [post] = [m.ts for m in box.slack.thread(CHANNEL, thread_ts) if m.text == text]
    return thread_ts, post, wamid


def _uploads(box: Sandbox) -> list[Any]:
    """What Meta was sent to store as media (`POST /{phone_number_id}/media`), in order."""
    return [c for c in box.meta.calls() if c.method == "POST" and c.path.endswith("/media")]


def _reactions_sent(box: Sandbox) -> list[dict[str, Any]]:
    return [m["reaction"] for m in box.meta.sent_messages() if m.get("type") == "reaction"]


def test_a_picture_with_a_few_words_reaches_the_customer_as_a_captioned_image(
    sandbox: Sandbox,
) -> None:
    meta, slack = sandbox.meta, sandbox.slack
    thread_ts, _, _ = _customer_writes(sandbox)
    shared = slack.agent_upload(
        channel=CHANNEL,
        thread_ts=thread_ts,
        filename="box.png",
        content=PNG,
        mimetype="image/png",
        text="Is it this one?",
    )
    assert meta.wait_for(lambda: len(meta.sent_messages()) == 1)
    assert sandbox.wait_idle()

    [upload] = _uploads(sandbox)
    assert upload.json["messaging_product"] == "whatsapp" and upload.json["type"] == "image/png"
    assert upload.json["file"] == {
        "filename": "box.png",
        "content_type": "image/png",
        "size": len(PNG),
    }
    [sent] = meta.sent_messages()
    assert sent["type"] == "image" and sent["to"] == ADA[0]
    assert sent["image"]["caption"] == "Is it this one?"
    # The message names the upload, and the upload holds exactly the agent's bytes.
    assert meta.get_media(sent["image"]["id"]) == (PNG, "image/png")
    assert len(meta.sent_messages()) == 1  # the words went as the caption, not as a text too
    # The agent sees it delivered on their own post, as for a typed reply.
    assert slack.wait_for(lambda: set(slack.reactions(CHANNEL, shared.ts)) >= DELIVERED)


def test_a_pdf_without_words_reaches_the_customer_as_a_document_with_its_name(
    sandbox: Sandbox,
) -> None:
    meta = sandbox.meta
    thread_ts, _, _ = _customer_writes(sandbox)
    sandbox.slack.agent_upload(
        channel=CHANNEL,
        thread_ts=thread_ts,
        filename="invoice-117.pdf",
        content=PDF,
        mimetype="application/pdf",
    )
    assert meta.wait_for(lambda: len(meta.sent_messages()) == 1)
    assert sandbox.wait_idle()

    [sent] = meta.sent_messages()
    assert sent["type"] == "document"
    assert sent["document"]["filename"] == "invoice-117.pdf"
    assert "caption" not in sent["document"]
    assert meta.get_media(sent["document"]["id"]) == (PDF, "application/pdf")
    assert len(_uploads(sandbox)) == 1


def test_a_file_too_large_for_whatsapp_is_explained_in_the_thread_and_never_sent(
    sandbox: Sandbox,
) -> None:
    thread_ts, _, _ = _customer_writes(sandbox)
    # Slack reports 40 MB; WhatsApp takes videos up to 16 MB.
    sandbox.slack.agent_upload(
        channel=CHANNEL,
        thread_ts=thread_ts,
        filename="unboxing.mp4",
        content=b"\x00\x00\x00\x18ftypmp42",
        mimetype="video/mp4",
        size=40 * 1024 * 1024,
    )
    assert sandbox.slack.wait_for(
        lambda: any("File not sent" in t for t in thread_texts(sandbox, thread_ts))
    )
    assert sandbox.wait_idle()

    [notice] = [t for t in thread_texts(sandbox, thread_ts) if "File not sent" in t]
    assert "unboxing.mp4 is 40 MB" in notice and "videos up to 16 MB" in notice
    assert _uploads(sandbox) == []
    assert sandbox.meta.sent_messages() == []


def test_an_agents_reaction_on_the_customers_message_reaches_whatsapp_and_its_removal_too(
    sandbox: Sandbox,
) -> None:
    meta, slack = sandbox.meta, sandbox.slack
    thread_ts, post, wamid = _customer_writes(sandbox)
    slack.agent_react(CHANNEL, post, "thumbsup")
    assert meta.wait_for(lambda: len(_reactions_sent(sandbox)) == 1)
    assert sandbox.wait_idle()
    assert _reactions_sent(sandbox) == [{"message_id": wamid, "emoji": "\N{THUMBS UP SIGN}"}]

    slack.agent_unreact(CHANNEL, post, "thumbsup")
    assert meta.wait_for(lambda: len(_reactions_sent(sandbox)) == 2)
    assert sandbox.wait_idle()
    assert _reactions_sent(sandbox)[1] == {"message_id": wamid, "emoji": ""}
    assert [m["type"] for m in meta.sent_messages()] == ["reaction", "reaction"]
    # A reaction is no reply: no notice, nothing else in the thread.
    assert thread_texts(sandbox, thread_ts) == ["My parcel is late"]


def test_a_reaction_added_and_taken_back_at_once_leaves_the_customer_without_it(
    sandbox: Sandbox,
) -> None:
    slack = sandbox.slack
    _, post, wamid = _customer_writes(sandbox)
    slack.agent_react(CHANNEL, post, "pray")

    # Taken back at once, most likely before the reaction went out (it waits 250 ms, as a
    # reply does); Slack's two events may even be handled in the other order.
    slack.agent_unreact(CHANNEL, post, "pray")
    assert sandbox.wait_idle()
    sent = _reactions_sent(sandbox)
    # Either both went out, the removal last, or neither did: the customer sees no reaction.
    assert sent in (
        [
            {"message_id": wamid, "emoji": "\N{PERSON WITH FOLDED HANDS}"},
            {"message_id": wamid, "emoji": ""},
        ],
        [],
    )


def test_the_bridges_own_reactions_never_reach_whatsapp(sandbox: Sandbox) -> None:
    meta, slack = sandbox.meta, sandbox.slack
    thread_ts, post, wamid = _customer_writes(sandbox)
    # Ada reacts to her own message: the bridge shows it as its own reaction on her post.
    reaction = {
        "type": "reaction",
        "reaction": {"message_id": wamid, "emoji": "\N{SMILING FACE WITH SMILING EYES}"},
    }
    payload = meta.build_message_webhook(from_wa_id=ADA[0], name=ADA[1], message=reaction)
    assert meta.post_webhook(payload).status_code == 200
    assert slack.wait_for(lambda: slack.reactions(CHANNEL, post) == ["blush"])
    # An agent answers: the bridge marks the answer sent, delivered and read.
    reply = slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Let me check")
    read = {*DELIVERED, "eyes"}
    assert slack.wait_for(lambda: read <= set(slack.reactions(CHANNEL, reply.ts)))
    assert sandbox.wait_idle()

    # Slack told the bridge of each of its own reactions, as it does...
    def echoed() -> set[tuple[str, str, str]]:
        events = [e.payload["event"] for e in slack.events()]
        return {
            (e["user"], e["item"]["ts"], e["reaction"])
            for e in events
            if e.get("type") == "reaction_added"
        }

    expected = {("UBOT", post, "blush"), *(("UBOT", reply.ts, name) for name in read)}
    assert slack.wait_for(lambda: echoed() >= expected)
    assert sandbox.wait_idle()
    # ... and none of them went to the customer: only the reply did.
    assert [m.get("type", "text") for m in meta.sent_messages()] == ["text"]
    assert thread_texts(sandbox, thread_ts) == ["My parcel is late", "Let me check"]


def test_a_link_to_the_customers_message_makes_a_whatsapp_reply_without_the_link(
    sandbox: Sandbox,
) -> None:
    meta = sandbox.meta
    thread_ts, post, wamid = _customer_writes(sandbox)
    # "Copy link" on a message in a thread, pasted, as Slack delivers it.
    link = (
        f"https://sandbox.slack.com/archives/{CHANNEL}/p{post.replace('.', '')}"
        f"?thread_ts={thread_ts}&amp;cid={CHANNEL}"
    )
    sandbox.slack.agent_reply(
        channel=CHANNEL, thread_ts=thread_ts, text=f"<{link}> It left this morning"
    )
    assert meta.wait_for(lambda: len(meta.sent_messages()) == 1)
    [sent] = meta.sent_messages()
    assert sent["text"]["body"] == "It left this morning"
    assert sent["context"] == {"message_id": wamid}


def test_a_quote_of_the_customers_words_makes_a_whatsapp_reply_without_the_quote(
    sandbox: Sandbox,
) -> None:
    meta = sandbox.meta
    thread_ts, _, _ = _customer_writes(sandbox, "Is the blue one in stock?")
    wamid = meta.send_text(*ADA, "And can it come by Friday?")
    assert sandbox.slack.wait_for(
        lambda: "And can it come by Friday?" in thread_texts(sandbox, thread_ts)
    )
    # The agent answers the first question, quoting it as Slack encodes a quote.
    sandbox.slack.agent_reply(
        channel=CHANNEL,
        thread_ts=thread_ts,
        text="&gt; And can it come by Friday?\nYes, Thursday even &amp; free",
    )
    assert meta.wait_for(lambda: len(meta.sent_messages()) == 1)
    [sent] = meta.sent_messages()
    assert sent["text"]["body"] == "Yes, Thursday even & free"
    assert sent["context"] == {"message_id": wamid}


def test_a_picture_sent_through_the_api_reaches_the_customer_and_the_thread(
    sandbox: Sandbox,
) -> None:
    meta = sandbox.meta
    thread_ts, _, _ = _customer_writes(sandbox)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    [conversation] = httpx.get(f"{sandbox.url}/api/v1/conversations", headers=auth).json()
    body = {
        "message_type": "image",
        "content": {"url": "https://example.test/a.png", "caption": "hi"},
    }
    answer = httpx.post(
        f"{sandbox.url}/api/v1/conversations/{conversation['id']}/messages",
        json=body,
        headers=auth,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["message_type"] == "image" and answer.json()["sender_type"] == "bot"

    assert meta.wait_for(lambda: len(meta.sent_messages()) == 1)
    [sent] = meta.sent_messages()
    assert sent["type"] == "image"
    assert sent["image"] == {"link": "https://example.test/a.png", "caption": "hi"}
    assert _uploads(sandbox) == []  # a link needs no upload
    assert sandbox.slack.wait_for(
        lambda: any("Sent through the API: an image" in t for t in thread_texts(sandbox, thread_ts))
    )
    [shown] = [t for t in thread_texts(sandbox, thread_ts) if "Sent through the API" in t]
    assert "link: https://example.test/a.png" in shown and shown.endswith("> hi")
    [post] = [
        m.ts for m in sandbox.slack.thread(CHANNEL, thread_ts) if "Sent through the API" in m.text
    ]
    assert sandbox.slack.wait_for(lambda: set(sandbox.slack.reactions(CHANNEL, post)) >= DELIVERED)
