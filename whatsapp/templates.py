"""Message templates as the Graph API lists them, and the components that send one.

``parse_template`` reads one ``GET /{waba_id}/message_templates`` item into the core's
``MessageTemplate``; ``send_components`` turns the values an agent gave into the
``components`` of a template message. Everything Meta-shaped about templates is here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.domain.templates import (
    MEDIA_HEADERS,
    MessageTemplate,
    Part,
    Placeholder,
    placeholder_names,
)

__all__ = ["parse_template", "send_components"]


def parse_template(data: Mapping[str, Any], *, quality: str | None = None) -> MessageTemplate:
    """A template from one ``data[]`` item; unknown fields are ignored, missing ones blank."""
    components = [c for c in _list(data.get("components")) if isinstance(c, dict)]
    named = _str(data.get("parameter_format")).upper() == "NAMED"
    header = _component(components, "HEADER")
    body = _component(components, "BODY")
    footer = _component(components, "FOOTER")
    buttons = [
        b for b in _list(_component(components, "BUTTONS").get("buttons")) if isinstance(b, dict)
    ]

    placeholders: list[Placeholder] = []
    header_kind = _str(header.get("format")).upper() or None
    header_text = _str(header.get("text")) or None
    if header_kind in MEDIA_HEADERS:
        handles = _list(_dict(header.get("example")).get("header_handle"))
        placeholders.append(
            Placeholder(part=Part.HEADER, name="media", example=_first_str(handles))
        )
    elif header_kind == "TEXT" and header_text:
        examples = _examples(_dict(header.get("example")), "header_text", named)
        placeholders += _text_placeholders(Part.HEADER, header_text, examples)
    body_text = _str(body.get("text"))
    body_examples = _examples(_dict(body.get("example")), "body_text", named)
    placeholders += _text_placeholders(Part.BODY, body_text, body_examples)
    urls: list[str] = []
    for index, button in enumerate(buttons):
        url = _str(button.get("url"))
        urls.append(url)
        if _str(button.get("type")).upper() == "URL":
            example = _first_str(_list(button.get("example")))
            placeholders += [
                Placeholder(part=Part.BUTTON, name=name, example=example, button=index)
                for name in placeholder_names(url)
            ]
    scored = _str(_dict(data.get("quality_score")).get("score")).upper()
    return MessageTemplate(
        name=_str(data.get("name")),
        language=_str(data.get("language")),
        category=_str(data.get("category")).upper(),
        status=_str(data.get("status")).upper(),
        quality=quality or scored or None,
        parameter_format="NAMED" if named else "POSITIONAL",
        header_kind=header_kind,
        header_text=header_text,
        body_text=body_text,
        footer_text=_str(footer.get("text")) or None,
        buttons=tuple(_str(b.get("text")) for b in buttons),
        button_urls=tuple(urls),
        placeholders=tuple(placeholders),
        template_id=_str(data.get("id")) or None,
    )


def send_components(template: MessageTemplate, values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The ``components`` of a template message carrying ``values`` (keyed by placeholder)."""
    named = template.parameter_format == "NAMED"

    def parameter(p: Placeholder) -> dict[str, Any]:
        value = values.get(p.key, "")
        if p.is_media:
            kind = (template.header_kind or "image").lower()
            return {"type": kind, kind: {"link": value}}
        item: dict[str, Any] = {"type": "text", "text": value}
        if named and p.part != Part.BUTTON:
            item["parameter_name"] = p.name
        return item

    components: list[dict[str, Any]] = []
    for part in (Part.HEADER, Part.BODY):
        params = [parameter(p) for p in template.placeholders if p.part == part]
        if params:
            components.append({"type": part.value, "parameters": params})
    buttons = sorted({p.button for p in template.placeholders if p.button is not None})
    for index in buttons:
        params = [parameter(p) for p in template.placeholders if p.button == index]
        components.append(
            {"type": "button", "sub_type": "url", "index": str(index), "parameters": params}
        )
    return components


def _component(components: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next((c for c in components if _str(c.get("type")).upper() == kind), {})


def _examples(example: dict[str, Any], key: str, named: bool) -> dict[str, str]:
    """Meta's example values by placeholder name (positional ones are "1", "2", ...)."""
    if named:
        pairs = _list(example.get(f"{key}_named_params"))
        return {
            _str(p.get("param_name")): _str(p.get("example"))
            for p in pairs
            if isinstance(p, dict) and _str(p.get("param_name"))
        }
    raw = _list(example.get(key))
    # Body examples are a list holding one list; header examples a flat list.
    values = raw[0] if raw and isinstance(raw[0], list) else raw
    return {str(i): str(v) for i, v in enumerate(values, start=1) if isinstance(v, str)}


def _text_placeholders(part: Part, text: str, examples: dict[str, str]) -> list[Placeholder]:
    return [
        Placeholder(part=part, name=name, example=examples.get(name) or None)
        for name in placeholder_names(text)
    ]


def _first_str(values: list[Any]) -> str | None:
    return next((v for v in values if isinstance(v, str) and v), None)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
