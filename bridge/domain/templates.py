"""Message templates: what an approved template says, what it needs filled in, how it reads.

Outside the 24-hour window only an approved template may be sent. A template has a
placeholder for each variable of its header, body and URL buttons (``{{1}}`` when its
parameters are positional, ``{{first_name}}`` when named), and a header that may be media.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "MAX_PARAMETER",
    "MEDIA_HEADERS",
    "MessageTemplate",
    "Part",
    "Placeholder",
    "ValueProblem",
    "is_language_code",
    "placeholder_names",
]

_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
#: Header formats whose value is a link to the media, not text.
MEDIA_HEADERS: Final = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
#: The one status Meta lets a template be sent in.
SENDABLE: Final = "APPROVED"


#: The languages Meta takes templates in, without their regions (``en`` for ``en_US``).
_LANGUAGES: Final = """
    af ar az be bg bn ca cs da de el en es et fa fi fil fr ga gu ha he hi hr hu id it ja ka kk
    kn ko ky lo lt lv mk ml mr ms nb nl pa pl prs ps pt ro ru rw si sk sl sq sr sv sw ta te th
    tr uk ur uz vi zh zu
"""
TEMPLATE_LANGUAGES: Final = frozenset(_LANGUAGES.split())
_LANGUAGE_CODE: Final = re.compile(r"^([a-z]{2,3})(?:[_-][A-Za-z]{2,4})?$")


def is_language_code(word: str) -> bool:
    """Whether ``word`` names a template language (``de``, ``en_US``, ``pt-BR``)."""
    match = _LANGUAGE_CODE.match(word)
    return match is not None and match.group(1) in TEMPLATE_LANGUAGES


def placeholder_names(text: str) -> list[str]:
    """The distinct placeholder names of ``text`` (``"1"``, ``"name"``), in first-seen order."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(text)))


class ValueProblem(enum.StrEnum):
    """What is wrong with a value an agent gave a template."""

    MISSING = "missing"
    NOT_HTTPS = "not_https"
    TOO_LONG = "too_long"


#: Meta's limit for one text parameter of a template.
MAX_PARAMETER: Final = 1024


class Part(enum.StrEnum):
    HEADER = "header"
    BODY = "body"
    BUTTON = "button"


@dataclass(frozen=True, slots=True, kw_only=True)
class Placeholder:
    """One value a template needs: a text variable, or (``name == "media"``) a header's media
    link. ``button`` is the URL button's index."""

    part: Part
    name: str
    example: str | None = None
    button: int | None = None

    @property
    def key(self) -> str:
        """Unique within a template: ``header.1``, ``body.first_name``, ``button0.1``."""
        where = f"button{self.button}" if self.part == Part.BUTTON else self.part.value
        return f"{where}.{self.name}"

    @property
    def is_media(self) -> bool:
        return self.part == Part.HEADER and self.name == "media"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTemplate:
    """One template in one language, as the WhatsApp Business Account holds it."""

    name: str
    language: str
    category: str
    status: str
    quality: str | None = None
    parameter_format: str = "POSITIONAL"  # or NAMED
    header_kind: str | None = None  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION
    header_text: str | None = None
    body_text: str = ""
    footer_text: str | None = None
    buttons: tuple[str, ...] = ()
    #: URL buttons' URLs, by button index, where a placeholder sits (for previews).
    button_urls: tuple[str, ...] = ()
    placeholders: tuple[Placeholder, ...] = ()
    template_id: str | None = None

    def reworded(
        self,
        *,
        header_text: str | None = None,
        body_text: str | None = None,
        footer_text: str | None = None,
        buttons: tuple[str, ...] | None = None,
    ) -> MessageTemplate:
        """The template after Meta changed its wording (None: that part is unchanged). Text
        placeholders follow the new wording and keep the examples of those that stay."""
        header_kind = self.header_kind
        if header_text is not None and header_kind not in MEDIA_HEADERS:
            header_kind = "TEXT"
        new_header = self.header_text if header_text is None else header_text
        new_body = self.body_text if body_text is None else body_text
        examples = {p.key: p.example for p in self.placeholders}

        def texts(part: Part, text: str | None) -> list[Placeholder]:
            found = [Placeholder(part=part, name=n) for n in placeholder_names(text or "")]
            return [dataclasses.replace(p, example=examples.get(p.key)) for p in found]

        header = (
            [p for p in self.placeholders if p.part == Part.HEADER]
            if header_kind != "TEXT"
            else texts(Part.HEADER, new_header)
        )
        kept_buttons = [p for p in self.placeholders if p.part == Part.BUTTON]
        return dataclasses.replace(
            self,
            header_kind=header_kind,
            header_text=new_header,
            body_text=new_body,
            footer_text=self.footer_text if footer_text is None else (footer_text or None),
            buttons=self.buttons if buttons is None else buttons,
            placeholders=(*header, *texts(Part.BODY, new_body), *kept_buttons),
        )

    @property
    def usable(self) -> bool:
        """Whether Meta lets it be sent now (paused, disabled or pending ones are not)."""
        return self.status == SENDABLE

    @property
    def needs_media(self) -> bool:
        return self.header_kind in MEDIA_HEADERS

    def values_from(self, params: Sequence[str]) -> dict[str, str]:
        """Values given in order (as ``/wa template`` takes them): the header's media link or
        text variables first, then the body's, then the URL buttons'."""
        if len(params) != len(self.placeholders):
            raise ValueError(
                f"{self.name} needs {len(self.placeholders)} value(s), {len(params)} given"
            )
        return {p.key: value for p, value in zip(self.placeholders, params, strict=True)}

    def missing(self, values: Mapping[str, str]) -> list[Placeholder]:
        """The placeholders ``values`` leaves empty."""
        return [p for p in self.placeholders if not values.get(p.key, "").strip()]

    def problems(self, values: Mapping[str, str]) -> dict[str, ValueProblem]:
        """What Meta would refuse in ``values``, by placeholder key; empty when all is well."""
        found: dict[str, ValueProblem] = {}
        for p in self.placeholders:
            value = values.get(p.key, "").strip()
            if not value:
                found[p.key] = ValueProblem.MISSING
            elif p.is_media and not value.lower().startswith("https://"):
                found[p.key] = ValueProblem.NOT_HTTPS
            elif len(value) > MAX_PARAMETER:
                found[p.key] = ValueProblem.TOO_LONG
        return found

    def render(self, values: Mapping[str, str]) -> str:
        """The message as the customer will read it, a missing value shown as ``{{…}}``."""

        def fill(part: Part, text: str) -> str:
            def value(match: re.Match[str]) -> str:
                key = Placeholder(part=part, name=match.group(1)).key
                return values.get(key) or match.group(0)

            return _PLACEHOLDER.sub(value, text)

        lines: list[str] = []
        if self.header_text and self.header_kind == "TEXT":
            lines.append(f"*{fill(Part.HEADER, self.header_text)}*")
        elif self.needs_media:
            media = values.get(Placeholder(part=Part.HEADER, name="media").key)
            lines.append(f"[{(self.header_kind or 'media').lower()}: {media or '…'}]")
        lines.append(fill(Part.BODY, self.body_text))
        if self.footer_text:
            lines.append(f"_{self.footer_text}_")
        if self.buttons:
            lines.append(" · ".join(f"[{label}]" for label in self.buttons))
        return "\n".join(lines)
