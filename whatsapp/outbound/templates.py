"""Template messages: their parameters and components, positional or named."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from whatsapp.outbound.fields import (
    ContentError,
    choice_field,
    ensure_unique,
    field_path,
    items_field,
    kind_of,
    message_body,
    object_field,
    string_field,
)
from whatsapp.outbound.interactive import _MEDIA_HEADERS
from whatsapp.outbound.messages import _media_object

# Templates: the file's TextParameter allows 32768 characters; header text (60), coupon
# codes (15) and the 10 buttons a template may have are Meta's documented limits.
_MAX_PARAMETER: Final = 32768


_MAX_HEADER_PARAMETER: Final = 60


_MAX_COUPON_CODE: Final = 15


_MAX_TEMPLATE_BUTTONS: Final = 10


_COMPONENT_TYPES: Final = frozenset({"header", "body", "button", "carousel", "limited_time_offer"})


_PARAMETER_NAME: Final = re.compile(r"^[A-Za-z0-9_]+$")


def _positional(params: Sequence[object], path: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for index, value in enumerate(params):
        label = f"template parameter {{{{{index + 1}}}}}"
        text = string_field(value, field_path(path, index), label=label, limit=_MAX_PARAMETER)
        parameters.append({"type": "text", "text": text})
    return parameters


def _parameter_name(name: object, path: str) -> str:
    if not isinstance(name, str) or not _PARAMETER_NAME.match(name):
        raise ContentError(
            path, f"parameter name {name!r} may hold only letters, digits and underscores"
        )
    return name


def _named(params: Mapping[str, object], path: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name, value in params.items():
        where = field_path(path, str(name))
        key = _parameter_name(name, where)
        label = f"template parameter {{{{{key}}}}}"
        text = string_field(value, where, label=label, limit=_MAX_PARAMETER)
        parameters.append({"type": "text", "parameter_name": key, "text": text})
    return parameters


def _template_header(value: object, path: str, *, named: bool | None) -> dict[str, Any]:
    """The header component; ``named`` is whether the body's parameters are (None: no body)."""
    data = object_field(
        value, path, ("type", "text", "parameter_name", "url", "media_id"), label="header"
    )
    kind = choice_field(
        data.get("type"), field_path(path, "type"), ("text", *_MEDIA_HEADERS), label="header type"
    )
    if kind != "text":
        object_field(data, path, ("type", "url", "media_id"), label=f"the {kind} header")
        ref = _media_object(kind, data.get("media_id"), data.get("url"), path, "url")
        return {"type": "header", "parameters": [{"type": kind, kind: ref}]}
    object_field(data, path, ("type", "text", "parameter_name"), label="a text header")
    text = string_field(
        data.get("text"), field_path(path, "text"), label="header text", limit=_MAX_HEADER_PARAMETER
    )
    parameter: dict[str, Any] = {"type": "text", "text": text}
    name_path = field_path(path, "parameter_name")
    if data.get("parameter_name") is not None:
        if named is False:
            raise ContentError(name_path, "the body's params are positional; drop the name")
        parameter = {
            "type": "text",
            "parameter_name": _parameter_name(data["parameter_name"], name_path),
            "text": text,
        }
    elif named:
        raise ContentError(name_path, "parameter name is missing; the body's params are named")
    return {"type": "header", "parameters": [parameter]}


# sub_type: (the content's key for its value, its name in errors, Meta's parameter type, limit)
_BUTTON_PARAMETERS: Final[dict[str, tuple[str, str, str, int | None]]] = {
    "url": ("text", "url suffix", "text", None),
    "quick_reply": ("payload", "payload", "payload", None),
    "copy_code": ("code", "coupon code", "coupon_code", _MAX_COUPON_CODE),
}


def _template_buttons(value: object, path: str) -> list[dict[str, Any]]:
    components: list[dict[str, Any]] = []
    indexes: set[str] = set()
    given = items_field(value, path, label="buttons", most=_MAX_TEMPLATE_BUTTONS, least=0)
    for position, item in enumerate(given):
        where = field_path(path, position)
        data = object_field(
            item, where, ("sub_type", "index", "text", "payload", "code"), label="a button"
        )
        sub_type = choice_field(
            data.get("sub_type"),
            field_path(where, "sub_type"),
            tuple(_BUTTON_PARAMETERS),
            label="sub_type",
        )
        key, label, parameter_type, limit = _BUTTON_PARAMETERS[sub_type]
        object_field(data, where, ("sub_type", "index", key), label=f"a {sub_type} button")
        index = data.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ContentError(
                field_path(where, "index"), f"index must be a number, not {kind_of(index)}"
            )
        if not 0 <= index < _MAX_TEMPLATE_BUTTONS:
            raise ContentError(
                field_path(where, "index"),
                f"index {index} is out of range 0 to {_MAX_TEMPLATE_BUTTONS - 1}",
            )
        ensure_unique(str(index), indexes, field_path(where, "index"), label="index")
        text = string_field(data.get(key), field_path(where, key), label=label, limit=limit)
        components.append(
            {
                "type": "button",
                "sub_type": sub_type,
                "index": str(index),
                "parameters": [{"type": parameter_type, parameter_type: text}],
            }
        )
    return components


def _components(params: object, header: object, buttons: object, at: str) -> list[dict[str, Any]]:
    """Header, body and button components from the short forms."""
    path = field_path(at, "params")
    named: bool | None = None
    body: list[dict[str, Any]] = []
    if isinstance(params, Mapping):
        body, named = _named(params, path), bool(params) or None
    elif isinstance(params, list | tuple):
        body, named = _positional(params, path), False if params else None
    elif params is not None:
        raise ContentError(
            path,
            f"params must be a list of values or an object of named values, not {kind_of(params)}",
        )
    components: list[dict[str, Any]] = []
    if header is not None:
        components.append(_template_header(header, field_path(at, "header"), named=named))
    if body:
        components.append({"type": "body", "parameters": body})
    if buttons is not None:
        components += _template_buttons(buttons, field_path(at, "buttons"))
    return components


def _graph_components(value: object, path: str) -> list[dict[str, Any]]:
    """Components in the Graph API's own form: shape checked, then copied as they are."""
    checked: list[dict[str, Any]] = []
    for index, item in enumerate(items_field(value, path, label="components", least=0)):
        where = field_path(path, index)
        if not isinstance(item, Mapping):
            raise ContentError(where, f"a component must be an object, not {kind_of(item)}")
        kind = string_field(item.get("type"), field_path(where, "type"), label="component type")
        if kind.lower() not in _COMPONENT_TYPES:
            expected = ", ".join(sorted(_COMPONENT_TYPES))
            raise ContentError(
                field_path(where, "type"), f"component type {kind!r} is not one of {expected}"
            )
        if kind.lower() == "button":
            string_field(item.get("sub_type"), field_path(where, "sub_type"), label="sub_type")
            index_value = item.get("index")
            if isinstance(index_value, bool) or not (
                isinstance(index_value, int)
                or (isinstance(index_value, str) and index_value.isdecimal())
            ):
                raise ContentError(field_path(where, "index"), "a button component needs its index")
        if "parameters" in item:
            parameters_path = field_path(where, "parameters")
            parameters = items_field(
                item["parameters"], parameters_path, label="parameters", least=0
            )
            for number, parameter in enumerate(parameters):
                at = field_path(parameters_path, number)
                if not isinstance(parameter, Mapping):
                    raise ContentError(
                        at, f"a parameter must be an object, not {kind_of(parameter)}"
                    )
                string_field(parameter.get("type"), field_path(at, "type"), label="parameter type")
        checked.append(copy.deepcopy(dict(item)))
    return checked


def _template_body(
    name: object, language: object, components: list[dict[str, Any]], at: str
) -> dict[str, Any]:
    template: dict[str, Any] = {
        "name": string_field(name, field_path(at, "name"), label="template name"),
        "language": {
            "code": string_field(language, field_path(at, "language"), label="template language")
        },
    }
    if components:
        template["components"] = components
    return template


def template_payload(
    to: str,
    name: str,
    language: str,
    components: Sequence[Mapping[str, Any]] = (),
    *,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """A template message; ``components`` are in the Graph API's form (shape checked only);
    ``template_components`` makes them from values."""
    body = _template_body(name, language, _graph_components(components, "components"), "")
    return message_body(to, "template", body, reply_to)


def template_params_components(params: Sequence[str]) -> list[dict[str, Any]]:
    """Body variables ``{{1}}``, ``{{2}}``… as positional text parameters (order matters)."""
    if isinstance(params, str):  # a lone string is a Sequence[str] too; almost surely a bug
        raise TypeError("params must be a sequence of strings, not a string")
    return _components(list(params), None, None, "")


def template_components(
    *,
    params: Sequence[str] | Mapping[str, str] = (),
    header: Mapping[str, Any] | None = None,
    buttons: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """A template's header, body and button components from values.

    Body ``params`` are positional (a sequence) or named (a mapping, sent with
    ``parameter_name``). ``header`` is ``{"type": "text", "text", "parameter_name"?}`` or
    ``{"type": "image"|"video"|"document", "url"|"media_id"}``. Each of ``buttons`` is
    ``{"sub_type": "url"|"quick_reply"|"copy_code", "index", "text"|"payload"|"code"}``.
    """
    return _components(params, header, buttons, "")
