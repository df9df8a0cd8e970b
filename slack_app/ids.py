"""Every identifier Slack sends back to us: commands, callback ids, action ids, metadata types.

They live here once, so the manifest, the listeners and the messages never disagree.
"""

from __future__ import annotations

from typing import Final

__all__ = ["COMMAND", "POST_METADATA_TYPE", "SEND_TEMPLATE_SHORTCUT"]

#: The slash command.
COMMAND: Final = "/wa"
#: The message shortcut "Send WhatsApp template" (slack-manifest.yml).
SEND_TEMPLATE_SHORTCUT: Final = "wa_send_template"
#: The metadata event type on the bridge's own posts; its payload carries the post's key.
POST_METADATA_TYPE: Final = "wabridge_post"
