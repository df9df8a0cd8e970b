"""The template modal on the real process: shortcut or button -> picker -> inputs with a
live preview -> inline errors -> the template goes out and shows in the thread."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox.harness import CHANNEL, Sandbox
from tests.e2e.steps import ADA, open_thread, sync_templates, thread_texts

pytestmark = [pytest.mark.e2e, pytest.mark.engine_neutral]

AGENT = "UAGENT1"


def _last_view(box: Sandbox, method: str | None = None) -> dict[str, Any]:
    views = [v for v in box.slack.views() if method in (None, v["method"])]
    assert views, "no view was opened"
    view: dict[str, Any] = views[-1]["view"]
    return view


def _blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b.get("block_id", b["type"]): b for b in view["blocks"]}


def _state(choice: str, **values: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "template": {
            "wa_template_pick": {"type": "external_select", "selected_option": {"value": choice}}
        }
    }
    for key, value in values.items():
        block = "var:" + key.replace("_", ".")
        state[block] = {"wa_template_value": {"type": "plain_text_input", "value": value}}
    return state


def _sent_templates(box: Sandbox) -> list[dict[str, Any]]:
    return [m["template"] for m in box.meta.sent_messages() if m.get("type") == "template"]


def test_shortcut_picker_preview_errors_and_send(sandbox: Sandbox) -> None:
    sync_templates(sandbox)
    thread_ts = open_thread(sandbox)

    opened = sandbox.slack.message_shortcut(
        callback_id="wa_send_template", channel=CHANNEL, message_ts=thread_ts, user=AGENT
    )
    assert opened.status == 200
    assert sandbox.slack.wait_for(
        lambda: any(v["method"] == "views.open" for v in sandbox.slack.views())
    )
    view = _last_view(sandbox, "views.open")
    assert "*Ada* (+4915112345678)" in _blocks(view)["context"]["elements"][0]["text"]

    options = sandbox.slack.block_suggestion(
        user=AGENT, view=view, action_id="wa_template_pick", block_id="template", value=""
    ).json()
    suggested = [o["value"] for o in options["option_groups"][0]["options"]]
    assert "order_update:en" in suggested and "promo_paused:en" not in str(options)
    typed = sandbox.slack.block_suggestion(
        user=AGENT, view=view, action_id="wa_template_pick", block_id="template", value="order"
    ).json()
    assert [o["value"] for g in typed["option_groups"] for o in g["options"]] == ["order_update:en"]

    updates = len(sandbox.slack.views())
    sandbox.slack.view_action(
        user=AGENT,
        view={"id": view["id"], "state": {"values": _state("order_update:en")}},
        action_id="wa_template_pick",
        value="order_update:en",
        block_id="template",
    )
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.views()) > updates)
    picked = _last_view(sandbox, "views.update")
    assert {"var:body.1", "var:body.2"} <= set(_blocks(picked))

    updates = len(sandbox.slack.views())
    sandbox.slack.view_action(
        user=AGENT,
        view={"id": view["id"], "state": {"values": _state("order_update:en", body_1="Ada")}},
        action_id="wa_template_value",
        value="Ada",
        block_id="var:body.1",
    )
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.views()) > updates)
    preview = _blocks(_last_view(sandbox, "views.update"))["section"]["text"]["text"]
    assert "Hi Ada, your order {{2}} has shipped." in preview

    refused = sandbox.slack.view_submission(
        view={"id": view["id"], "private_metadata": _last_view(sandbox)["private_metadata"]},
        user=AGENT,
        values=_state("order_update:en", body_1="Ada", body_2=" "),
    ).json()
    assert refused["response_action"] == "errors"
    assert list(refused["errors"]) == ["var:body.2"]
    assert sandbox.wait_idle()
    assert _sent_templates(sandbox) == []

    accepted = sandbox.slack.view_submission(
        view={"id": view["id"], "private_metadata": _last_view(sandbox)["private_metadata"]},
        user=AGENT,
        values=_state("order_update:en", body_1="Ada", body_2="#1042"),
    )
    assert accepted.status == 200 and not accepted.text.strip()  # the modal closes
    assert sandbox.meta.wait_for(lambda: len(_sent_templates(sandbox)) == 1)
    assert sandbox.slack.wait_for(
        lambda: any("your order #1042 has shipped" in t for t in thread_texts(sandbox, thread_ts))
    )


def test_the_window_closed_notice_button_opens_the_modal(sandbox: Sandbox) -> None:
    sync_templates(sandbox)
    sandbox.meta.send_text(*ADA, "Old question", timestamp=int(time.time()) - 25 * 3600)
    assert sandbox.slack.wait_for(lambda: len(sandbox.slack.top_level(CHANNEL)) == 1)
    thread_ts = sandbox.slack.top_level(CHANNEL)[0].ts
    assert sandbox.slack.wait_for(lambda: "Old question" in thread_texts(sandbox, thread_ts))
    sandbox.slack.agent_reply(channel=CHANNEL, thread_ts=thread_ts, text="Sorry for the wait!")

    def notice() -> Any:
        return next(
            (m for m in sandbox.slack.thread(CHANNEL, thread_ts) if "Not sent" in m.text), None
        )

    assert sandbox.slack.wait_for(lambda: notice() is not None)
    # It names the approved templates to send instead (not the paused one).
    assert "Suggested: `hello_world` (en_US), `order_update` (en)." in notice().text
    [button] = [e for b in notice().blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "wa_open_template_modal"
    sandbox.slack.block_action(
        user=AGENT,
        channel=CHANNEL,
        message_ts=notice().ts,
        thread_ts=thread_ts,
        action_id=button["action_id"],
        value=button["value"],
    )
    assert sandbox.slack.wait_for(
        lambda: any(v["method"] == "views.open" for v in sandbox.slack.views())
    )
    parent = sandbox.slack.message(CHANNEL, thread_ts)
    assert parent is not None and "Window closed: templates only" in parent.text
