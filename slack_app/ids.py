"""Every identifier Slack sends back to us: commands, callback ids, action ids, metadata types.

They live here once, so the manifest, the listeners and the messages never disagree.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COMMAND",
    "OPEN_TEMPLATE_MODAL",
    "POST_METADATA_TYPE",
    "RETRY_SEND",
    "SEND_AGAIN",
    "SEND_TEMPLATE_SHORTCUT",
    "TEMPLATE_BLOCK",
    "TEMPLATE_MODAL",
    "TEMPLATE_PICK",
    "VALUE_ACTION",
    "VALUE_BLOCK_PREFIX",
]

#: The slash command.
COMMAND: Final = "/wa"
#: The message shortcut "Send WhatsApp template" (slack-manifest.yml).
SEND_TEMPLATE_SHORTCUT: Final = "wa_send_template"
#: The metadata event type on the bridge's own posts; its payload carries the post's key.
POST_METADATA_TYPE: Final = "wabridge_post"
#: The "Send template" button on the parent, window-closed notices and warnings; its value
#: is the conversation's id, so a click needs no other state.
OPEN_TEMPLATE_MODAL: Final = "wa_open_template_modal"
#: The template modal, and its parts.
TEMPLATE_MODAL: Final = "wa_template_modal"
TEMPLATE_BLOCK: Final = "template"
TEMPLATE_PICK: Final = "wa_template_pick"
#: One input per placeholder: block ``var:<placeholder key>``, action ``wa_template_value``.
VALUE_BLOCK_PREFIX: Final = "var:"
VALUE_ACTION: Final = "wa_template_value"
#: The buttons on a failure notice that send the failed message anew: "Retry" after a
#: temporary failure outlasted the retries, "Send again" after an unknown outcome. Their
#: value is the failed message's id.
RETRY_SEND: Final = "wa_retry_send"
SEND_AGAIN: Final = "wa_send_again"
