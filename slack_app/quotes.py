"""What an agent's reply points at: a link to a post of the thread, or a quoted message.

Slack threads have no "reply to this message", so agents point at a customer's message the
way Slack lets them: they paste its link ("Copy link") or quote its words (``> …``). The
bridge then sends the reply as a WhatsApp reply to that message, without the link or quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["Pointer", "find_pointer"]

#: A Slack message link, as Slack encodes it in a message's text: ``<url>`` or ``<url|label>``.
_PERMALINK: Final = re.compile(
    r"<https://[^|>\s]+/archives/(?P<channel>[A-Z0-9]+)/p(?P<seconds>\d{10})(?P<micros>\d{6})"
    r"[^|>\s]*(?:\|[^>]*)?>"
)
_QUOTE_LINE: Final = re.compile(r"^&gt;\s?(?P<line>.*)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pointer:
    """The post a reply links to (``slack_ts``) or the words it quotes (``quoted``), in
    Slack's encoding, and ``rest``: the reply without them."""

    slack_ts: str | None = None
    quoted: str | None = None
    rest: str = ""


def find_pointer(text: str, *, channel: str) -> Pointer | None:
    """The first link to a post of ``channel``, else a quote the reply opens with."""
    for match in _PERMALINK.finditer(text):
        if match.group("channel") == channel:
            rest = (text[: match.start()] + text[match.end() :]).strip()
            return Pointer(
                slack_ts=f"{match.group('seconds')}.{match.group('micros')}",
                rest=re.sub(r"[ \t]{2,}", " ", rest),
            )
    lines = text.split("\n")
    quoted: list[str] = []
    for line in lines:
        found = _QUOTE_LINE.match(line)
        if found is None:
            break
        quoted.append(found.group("line"))
    if not quoted or len(quoted) == len(lines):
        return None  # no quote, or nothing but a quote (then it is the message itself)
    rest = "\n".join(lines[len(quoted) :]).strip()
    return Pointer(quoted="\n".join(quoted).strip(), rest=rest) if rest else None
