"""Message templates as the ``GET /{waba_id}/message_templates`` API describes them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Template", "parse_template", "placeholders", "render_preview"]

_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """One template in one language; only ``APPROVED`` ones can be sent."""

    name: str
    language: str
    status: str
    category: str
    parameter_format: str  # POSITIONAL ({{1}}) or NAMED ({{first_name}})
    components: tuple[dict[str, Any], ...]
    body_text: str
    param_count: int

    @property
    def approved(self) -> bool:
        """Whether Meta lets this template be sent."""
        return self.status == "APPROVED"


def placeholders(text: str) -> list[str]:
    """The distinct placeholder names of ``text`` (``"1"``, ``"name"``), in first-seen order."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(text)))


def parse_template(data: Mapping[str, Any]) -> Template:
    """A ``Template`` from one ``data[]`` item; unknown fields are ignored, missing ones blank."""
    raw_components = data.get("components")
    components = tuple(
        dict(c)
        for c in (raw_components if isinstance(raw_components, list) else ())
        if isinstance(c, dict)
    )
    body = next((c for c in components if str(c.get("type", "")).upper() == "BODY"), {})
    body_text = _str(body.get("text"))
    return Template(
        name=_str(data.get("name")),
        language=_str(data.get("language")),
        status=_str(data.get("status")).upper(),
        category=_str(data.get("category")).upper(),
        parameter_format=_str(data.get("parameter_format")).upper() or "POSITIONAL",
        components=components,
        body_text=body_text,
        param_count=len(placeholders(body_text)),
    )


def render_preview(template: Template, params: Sequence[str] | Mapping[str, str]) -> str:
    """The body text with its placeholders filled in; a missing value keeps its ``{{…}}``.

    Positional templates take a sequence (``{{1}}`` is ``params[0]``). Named ones take a
    mapping, or a sequence in the order the names first appear in the body.
    """
    if isinstance(params, Mapping):
        values = dict(params)
    elif template.parameter_format == "NAMED":
        values = dict(zip(placeholders(template.body_text), params, strict=False))
    else:
        values = {str(i): v for i, v in enumerate(params, start=1)}

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return _PLACEHOLDER.sub(fill, template.body_text)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
