"""What WhatsApp takes as a message's content, checked before a message is stored.

``ContentRules`` is the core's ``OutboundContent``: ``check`` builds the message a send would
make, as a dry run, so content WhatsApp would refuse is refused at once with the path of
what is wrong; ``template_values`` reads template components in the Graph API's form back
into the values of a stored template (the inverse of ``send_components``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from bridge.domain import MessageTemplate, Part, Placeholder
from bridge.errors import InvalidContentError
from whatsapp.outbound import MAX_TEXT

__all__ = ["ContentRules"]

_MEDIA_PARAMETERS: Final = frozenset({"image", "video", "document"})


class ContentRules:
    """The core's ``OutboundContent`` over the payload builders."""

    def check(self, *, to: str, message_type: str, content: Mapping[str, Any]) -> None:
        # Until every type has its builder, text and templates are what can be sent.
        if message_type == "text":
            text = content.get("text")
            if not isinstance(text, str) or not text.strip():
                raise InvalidContentError("a text message needs its text", field="content.text")
            if len(text) > MAX_TEXT:
                raise InvalidContentError(
                    f"text is {len(text)} characters; WhatsApp allows {MAX_TEXT}",
                    field="content.text",
                )
            return
        if message_type == "template":
            for name in ("name", "language"):
                value = content.get(name)
                if not isinstance(value, str) or not value.strip():
                    raise InvalidContentError(
                        f"a template needs its {name}", field=f"content.{name}"
                    )
            params = content.get("params")
            if params is not None and (
                not isinstance(params, list) or not all(isinstance(p, str) for p in params)
            ):
                raise InvalidContentError(
                    "params are the body's values, a list of strings", field="content.params"
                )
            components = content.get("components")
            if components is not None and not isinstance(components, list):
                raise InvalidContentError(
                    "components are a list, in the Graph API's form", field="content.components"
                )
            return
        raise InvalidContentError(
            f"messages of type {message_type!r} cannot be sent", field="message_type"
        )

    def template_values(
        self, template: MessageTemplate, components: Sequence[Mapping[str, Any]]
    ) -> dict[str, str]:
        """The values (by ``Placeholder.key``) that ``components`` fill ``template`` with."""
        values: dict[str, str] = {}
        for i, component in enumerate(components):
            at = f"content.components[{i}]"
            if not isinstance(component, Mapping):
                raise InvalidContentError("a component is an object", field=at)
            slots = _slots(template, component, at)
            parameters = component.get("parameters") or []
            if not isinstance(parameters, list) or len(parameters) != len(slots):
                kind = str(component.get("type", "")).lower()
                raise InvalidContentError(
                    f"the {kind} of template {template.name} takes {len(slots)} parameter(s)",
                    field=f"{at}.parameters",
                )
            for j, (parameter, slot) in enumerate(zip(parameters, slots, strict=True)):
                where = f"{at}.parameters[{j}]"
                if not isinstance(parameter, Mapping):
                    raise InvalidContentError("a parameter is an object", field=where)
                slot = _named(template, slots, slot, parameter, where)
                values[slot.key] = _value(slot, parameter, where)
        return values


def _slots(template: MessageTemplate, component: Mapping[str, Any], at: str) -> list[Placeholder]:
    kind = str(component.get("type", "")).lower()
    if kind in (Part.HEADER.value, Part.BODY.value):
        return [p for p in template.placeholders if p.part == Part(kind)]
    if kind == Part.BUTTON.value:
        index = component.get("index")
        if not str(index).isdigit():
            raise InvalidContentError("a button component needs its index", field=f"{at}.index")
        slots = [p for p in template.placeholders if p.button == int(str(index))]
        if slots:
            return slots
        raise InvalidContentError(
            f"button {index} of template {template.name} takes no parameter", field=f"{at}.index"
        )
    raise InvalidContentError(
        f"template components are header, body or button; not {kind or 'untyped'}",
        field=f"{at}.type",
    )


def _named(
    template: MessageTemplate,
    slots: list[Placeholder],
    slot: Placeholder,
    parameter: Mapping[str, Any],
    where: str,
) -> Placeholder:
    """The placeholder a named parameter fills (positional ones fill them in order)."""
    name = parameter.get("parameter_name")
    if template.parameter_format != "NAMED" or name is None:
        return slot
    found = next((p for p in slots if p.name == name), None)
    if found is None:
        raise InvalidContentError(
            f"template {template.name} has no parameter {name!r} there",
            field=f"{where}.parameter_name",
        )
    return found


def _value(slot: Placeholder, parameter: Mapping[str, Any], where: str) -> str:
    kind = parameter.get("type")
    if slot.is_media:
        media = parameter.get(kind) if kind in _MEDIA_PARAMETERS else None
        link = media.get("link") if isinstance(media, Mapping) else None
        if not isinstance(link, str):
            raise InvalidContentError(
                'a media header takes {"type": "image", "image": {"link": "https://..."}}',
                field=where,
            )
        return link
    text = parameter.get("text")
    if kind != "text" or not isinstance(text, str):
        raise InvalidContentError(
            'a text parameter is {"type": "text", "text": "..."}', field=where
        )
    return text
