"""The Slack scopes and events the bridge needs: the manifests ask for exactly these, a test
holds them against every Web API call in the code, and ``wabridge doctor`` checks a token's
granted scopes against them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["BOT_EVENTS", "BOT_SCOPES", "SCOPE_OF_METHOD"]

#: Every Web API method the bridge calls, and the scope Slack wants for it (None: none).
#: History in a private channel wants ``groups:history`` where a public one wants
#: ``channels:history``; the support channel may be either.
SCOPE_OF_METHOD: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        "chat.postMessage": "chat:write",
        "chat.update": "chat:write",
        "chat.postEphemeral": "chat:write",
        "reactions.add": "reactions:write",
        "reactions.remove": "reactions:write",
        "conversations.history": "channels:history",
        "conversations.replies": "channels:history",
        "users.info": "users:read",
        "files.getUploadURLExternal": "files:write",
        "files.completeUploadExternal": "files:write",
        "files.info": "files:read",
        "views.open": None,
        "views.update": None,
    }
)

#: The bot scopes of both manifests.
BOT_SCOPES: Final = frozenset(
    {s for s in SCOPE_OF_METHOD.values() if s} | {"groups:history", "commands", "reactions:read"}
)

#: The bot events of both manifests: messages in public and in private channels, and
#: agents' reactions (``reactions:read``), sent to the customer.
BOT_EVENTS: Final = frozenset(
    {"message.channels", "message.groups", "reaction_added", "reaction_removed"}
)
