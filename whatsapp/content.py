"""What WhatsApp takes as a message's content, checked before a message is stored.

``ContentRules`` is the core's ``OutboundContent``. ``check`` builds the request a send would
make (``content_payload``), as a dry run, so content WhatsApp would refuse is refused at once
with the path of what is wrong. ``template_values`` reads the components that content builds
back into the values of a stored template (the inverse of ``send_components``), whichever of
the content forms it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bridge.domain import MessageTemplate, Part, Placeholder
from bridge.errors import InvalidContentError
from whatsapp.outbound import ContentError, content_payload

__all__ = ["ContentRules"]

_MEDIA_PARAMETERS: Final = frozenset({"image", "video", "document"})
#: Any recipient will do to build a template's components.
_ANYONE: Final = "0"


class ContentRules:
    """The core's ``OutboundContent`` over the payload builders."""

    def check(self, *, to: str, message_type: str, content: Mapping[str, Any]) -> None:
        try:
            content_payload(to, message_type, content)
        except ContentError as error:
            raise InvalidContentError(error.message, field=error.field) from None

    def template_values(
        self, template: MessageTemplate, content: Mapping[str, Any]
    ) -> dict[str, str]:
        """The values (by ``Placeholder.key``) that template ``content`` fills ``template``
        with; the content has passed ``check``."""
        try:
            built = content_payload(_ANYONE, "template", content)["template"]
        except ContentError as error:
            raise InvalidContentError(error.message, field=error.field) from None
        where = _Where(content)
        values: dict[str, str] = {}
        for i, component in enumerate(built.get("components") or []):
            slots = _slots(template, component, where.component(i, component))
            parameters = component.get("parameters") or []
            if len(parameters) != len(slots):
                raise InvalidContentError(
                    f"{_named_part(component)} of template {template.name} takes "
                    f"{len(slots)} value(s), {len(parameters)} given",
                    field=where.component(i, component),
                )
            for j, (parameter, slot) in enumerate(zip(parameters, slots, strict=True)):
                at = where.parameter(i, j, component)
                slot = _by_name(template, slots, slot, parameter, at)
                values[slot.key] = _value(slot, parameter, at)
        return values


class _Where:
    """Where, in the content as given, a built component or parameter came from."""

    def __init__(self, content: Mapping[str, Any]) -> None:
        self._graph = content.get("components") is not None
        self._positional = isinstance(content.get("params"), list)

    def component(self, i: int, component: Mapping[str, Any]) -> str:
        if self._graph:
            return f"content.components[{i}]"
        kind = component.get("type")
        return {"header": "content.header", "body": "content.params"}.get(
            str(kind), "content.buttons"
        )

    def parameter(self, i: int, j: int, component: Mapping[str, Any]) -> str:
        if self._graph:
            return f"content.components[{i}].parameters[{j}]"
        if component.get("type") == "body" and self._positional:
            return f"content.params[{j}]"
        return self.component(i, component)


def _named_part(component: Mapping[str, Any]) -> str:
    kind = str(component.get("type", "")).lower()
    return f"button {component.get('index')}" if kind == "button" else f"the {kind}"


def _slots(template: MessageTemplate, component: Mapping[str, Any], at: str) -> list[Placeholder]:
    kind = str(component.get("type", "")).lower()
    if kind in (Part.HEADER.value, Part.BODY.value):
        return [p for p in template.placeholders if p.part == Part(kind)]
    if kind == Part.BUTTON.value:
        index = int(str(component.get("index")))
        slots = [p for p in template.placeholders if p.button == index]
        if slots:
            return slots
        raise InvalidContentError(
            f"button {index} of template {template.name} takes no value", field=at
        )
    raise InvalidContentError(f"template {template.name} takes no {kind} component", field=at)


def _by_name(
    template: MessageTemplate,
    slots: list[Placeholder],
    slot: Placeholder,
    parameter: Mapping[str, Any],
    at: str,
) -> Placeholder:
    """The placeholder a named parameter fills (positional ones fill them in order)."""
    name = parameter.get("parameter_name")
    if name is None:
        return slot
    found = next((p for p in slots if p.name == name), None)
    if found is None:
        raise InvalidContentError(f"template {template.name} has no {{{{{name}}}}} there", field=at)
    return found


def _value(slot: Placeholder, parameter: Mapping[str, Any], at: str) -> str:
    kind = parameter.get("type")
    if slot.is_media:
        media = parameter.get(kind) if kind in _MEDIA_PARAMETERS else None
        link = media.get("link") if isinstance(media, Mapping) else None
        if not isinstance(link, str):
            raise InvalidContentError("a media header takes a link (url), not a media id", field=at)
        return link
    text = parameter.get("text")
    if kind != "text" or not isinstance(text, str):
        raise InvalidContentError('this value is text: {"type": "text", "text": ...}', field=at)
    return text
