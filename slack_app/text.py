"""Message text between Slack and WhatsApp, both ways.

Slack delivers what an agent typed in its own encoding: ``&``, ``<`` and ``>`` arrive as
entities, and every ``<...>`` is markup Slack put there (a link, a mention, ``@here``).
WhatsApp has no markup beyond its formatting marks. So an agent's reply is decoded into
plain text the customer can read, and a customer's text is escaped so that nothing they
type can become active in Slack.

Both directions scan the text once with one tokenizer; code spans are tokens of their own,
so nothing inside them is reformatted. Slack encodes links inside code as ``<...>`` too
(what the agent sees there is a link), so those are still turned back into plain URLs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from typing import Final, Protocol

import emoji

__all__ = [
    "UserNames",
    "slack_emoji_name",
    "slack_to_whatsapp",
    "unicode_emoji",
    "whatsapp_to_slack",
]


class UserNames(Protocol):
    """Who a Slack user id is, for showing a mention to a customer."""

    async def display_name(self, user_id: str) -> str | None:
        """The user's name as Slack shows it, or None when it cannot be found out."""
        ...


# -- Slack to WhatsApp ---------------------------------------------------------------------

_ENTITIES: Final = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
# One pass, so that "&amp;lt;" (a typed "&lt;") becomes "&lt;" and not "<".
_ENTITY: Final = re.compile("&(?:amp|lt|gt);")

_SLACK_TOKEN: Final = re.compile(
    r"(?P<block>```.+?```)"
    r"|(?P<code>`[^`\n]+`)"
    r"|<(?P<angle>[^<>]*)>"
    # The rich-text editor's list bullets, nested levels included (▪ may carry VS15).
    r"|^(?P<indent>[ \t]*)[•◦▪]\ufe0e?[ \t]+"
    # A shortcode glued to a letter or digit is not one: "10:30:45", "Note:x:".
    r"|(?<![A-Za-z0-9]):(?P<emoji>[a-z0-9_+'-]+):(?::skin-tone-(?P<tone>[2-6]):)?",
    re.DOTALL | re.MULTILINE,
)
# Inside code only Slack's own encoding is undone.
_CODE_TOKEN: Final = re.compile(r"<(?P<angle>[^<>]*)>|&(?:amp|lt|gt);")
_MENTION: Final = re.compile(r"<@([^<>|]+)\|?>")

_BROADCASTS: Final = frozenset({"here", "channel", "everyone", "group"})
#: When users.info cannot name a mentioned user, the mention keeps its id: the sentence
#: keeps its shape ("Thanks @U024BE7LH!") and the agent can still tell whom it meant.
_UNKNOWN_USER: Final = "@{user_id}"
#: A channel link without a name: customers cannot open it anyway, so no id is shown.
_UNKNOWN_CHANNEL: Final = "#channel"

# Slack names (from its emoji set) that the emoji library does not know.
_SLACK_ONLY_EMOJI: Final = {
    "simple_smile": "\U0001f642",
    "face_palm": "\U0001f926",
    "the_horns": "\U0001f918",
    "smiling_face_with_3_hearts": "\U0001f970",
    "hand_with_index_and_middle_fingers_crossed": "\U0001f91e",
}
_NO_SPACE_BEFORE: Final = tuple(",.;!?)")
_VS16: Final = "\ufe0f"
_SCHEME: Final = re.compile(r"^(?:https?://|mailto:|tel:)", re.IGNORECASE)
_NON_WEB_SCHEME: Final = re.compile(r"^(?:mailto|tel):", re.IGNORECASE)


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group()], text)


async def slack_to_whatsapp(text: str, *, users: UserNames) -> str:
    """Turn the ``text`` of a Slack message event into the plain text a customer receives.

    Each distinct mentioned user is looked up once; mentions that cannot be named keep the id.
    """
    ids = list(dict.fromkeys(m.group(1) for m in _MENTION.finditer(text)))
    found = await asyncio.gather(*(users.display_name(user_id) for user_id in ids))
    return _convert(text, dict(zip(ids, found, strict=True)))


def _convert(text: str, names: Mapping[str, str | None]) -> str:
    # None marks a token that was dropped (``@here``); the text around it is tidied later.
    pieces: list[str | None] = []
    pos = 0
    for match in _SLACK_TOKEN.finditer(text):
        pieces.append(_unescape(text[pos : match.start()]))
        pos = match.end()
        if match.group("block") or match.group("code"):
            pieces.append(_code(match.group(), names))
        elif match.group("angle") is not None:
            pieces.append(_angle(match.group("angle"), names, in_code=False))
        elif match.group("indent") is not None:
            pieces.append(match.group("indent") + "- ")
        else:
            shortcode = _emoji(match.group("emoji"), match.group("tone"))
            pieces.append(match.group() if shortcode is None else shortcode)
    pieces.append(_unescape(text[pos:]))
    return _close_gaps(pieces).strip()


def _code(span: str, names: Mapping[str, str | None]) -> str:
    def undo(match: re.Match[str]) -> str:
        if match.group("angle") is None:
            return _ENTITIES[match.group()]
        return _angle(match.group("angle"), names, in_code=True) or ""

    return _CODE_TOKEN.sub(undo, span)


def _angle(inner: str, names: Mapping[str, str | None], *, in_code: bool) -> str | None:
    """One ``<...>`` token as plain text, or None when it is dropped."""
    target, _, label = inner.partition("|")
    shown = _unescape(label)
    if target.startswith("@"):
        user_id = target[1:]
        name = shown or names.get(user_id)
        return f"@{name}" if name else _UNKNOWN_USER.format(user_id=user_id)
    if target.startswith("#"):
        return f"#{shown}" if shown else _UNKNOWN_CHANNEL
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        if command in _BROADCASTS:
            # Pinging the whole channel means nothing to a customer; in code it is just text.
            return f"@{command}" if in_code else None
        return shown or None
    return _link(_unescape(target), shown)


def _link(url: str, label: str) -> str:
    # "mailto:" and "tel:" mean nothing to a reader; web links keep theirs to stay tappable.
    address = _NON_WEB_SCHEME.sub("", url)
    if not label or _bare(label) == _bare(url):
        # Slack auto-links "example.com" as <http://example.com|example.com>: say it once.
        return label or address
    return f"{label} ({address})"


def _bare(url: str) -> str:
    return _SCHEME.sub("", url).rstrip("/").lower()


def _emoji(name: str, tone: str | None) -> str | None:
    """The Unicode for a Slack shortcode (with its skin tone), or None if it is not one."""
    glyph = _SLACK_ONLY_EMOJI.get(name) or _library_emoji(name) or _flag(name)
    if glyph is None or tone is None:
        return glyph
    # Slack's tones 2..6 are the Fitzpatrick modifiers U+1F3FB..U+1F3FF. The modifier
    # follows the first code point and replaces its VS16, which keeps ZWJ sequences such
    # as "man shrugging" whole.
    modifier = chr(0x1F3FB + int(tone) - 2)
    rest = glyph[1:].removeprefix(_VS16)
    toned = glyph[0] + modifier + rest
    return toned if emoji.is_emoji(toned) else glyph


def _library_emoji(name: str) -> str | None:
    # Slack writes some names with hyphens ("man-shrugging") where the library has "_".
    for candidate in dict.fromkeys((name, name.replace("-", "_"))):
        code = f":{candidate}:"
        glyph = emoji.emojize(code, language="alias")
        if glyph != code:
            return glyph
    return None


def _flag(name: str) -> str | None:
    # Slack names most country flags "flag-xx" by ISO code; they are pairs of regional
    # indicator letters.
    code = name.removeprefix("flag-")
    if code == name or len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    glyph = "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in code.lower())
    return glyph if emoji.is_emoji(glyph) else None


def _close_gaps(pieces: Iterable[str | None]) -> str:
    """Join pieces where None stands for a dropped token, leaving no doubled or stray spaces."""
    runs: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if piece is None:
            runs.append("".join(current))
            current = []
        else:
            current.append(piece)
    runs.append("".join(current))
    text = runs[0]
    for after in runs[1:]:
        text = _join_at_gap(text, after)
    return text


def _join_at_gap(before: str, after: str) -> str:
    left = before.rstrip(" \t")
    right = after.lstrip(" \t")
    spaced = len(left) < len(before) or len(right) < len(after)
    at_line_start = not left or left.endswith("\n")
    # "Hi <!here>, all" reads "Hi, all".
    if at_line_start or right.startswith(("\n", *_NO_SPACE_BEFORE)):
        return left + right
    return left + (" " if spaced else "") + right


# -- WhatsApp to Slack ---------------------------------------------------------------------

_WHATSAPP_TOKEN: Final = re.compile(
    r"```(?P<block>.+?)```"
    r"|`(?P<code>[^`\n]+)`"
    r"|^(?P<quote>>[ \t])"
    r"|^(?P<indent>[ \t]*)\*[ \t]",
    re.DOTALL | re.MULTILINE,
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def whatsapp_to_slack(text: str) -> str:
    """Turn a customer's WhatsApp text into Slack mrkdwn that can mention or link nobody.

    Their formatting is kept: bold, italic and strike are the same marks in both; monospace
    becomes Slack code, quotes stay quotes and ``* item`` lists become ``• item``.
    """
    out: list[str] = []
    pos = 0
    for match in _WHATSAPP_TOKEN.finditer(text):
        out.append(_escape(text[pos : match.start()]))
        pos = match.end()
        if match.group("block") is not None:
            content = match.group("block")
            one_line = "\n" not in content and "`" not in content
            fence = "`" if one_line else "```"
            out.append(fence + _escape(content) + fence)
        elif match.group("code") is not None:
            out.append("`" + _escape(match.group("code")) + "`")
        elif match.group("quote") is not None:
            # A bare ">" at a line start is Slack's quote mark; "&gt;" would show the
            # character instead. Unlike "<" it can open no link or mention, so it is safe.
            out.append(match.group("quote"))
        else:
            # "* item" would pair with a later "*" and turn the list bold.
            out.append(match.group("indent") + "• ")
    out.append(_escape(text[pos:]))
    return "".join(out)


_SHORTCODE: Final = re.compile(r"^:([a-z0-9_+-]+):$")


def slack_emoji_name(emoji_text: str) -> str | None:
    """The Slack name of one emoji a customer reacted with (``👍`` -> ``+1``), or None when
    it has none Slack would know (it is then shown as text instead)."""
    named = emoji.demojize(emoji_text.strip(), language="alias")
    match = _SHORTCODE.match(named)
    if match is None:
        return None
    name = match.group(1)
    return "+1" if name == "thumbsup" else name


#: Slack's skin tones: ``skin-tone-2`` to ``skin-tone-6``.
_SKIN_TONES: Final = frozenset("23456")


def unicode_emoji(name: str) -> str | None:
    """The Unicode emoji of a Slack reaction name (``+1::skin-tone-3`` -> ``👍🏼``), or None
    for one only Slack knows (a custom emoji).

    A reaction name is a shortcode without its colons, so it reads the way a shortcode in a
    message does: Slack's own names, hyphenated names and flags included."""
    base, _, tone = name.strip(":").partition("::")
    shade = tone.removeprefix("skin-tone-")
    return _emoji(base, shade if shade in _SKIN_TONES else None)
