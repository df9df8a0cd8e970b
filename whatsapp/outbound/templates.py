"""Template messages: their parameters and components, positional or named."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from whatsapp.outbound.fields import (
    ContentError,
    _at,
    _items,
    _kind,
    _message,
    _object,
    _one_of,
    _string,
    _unique,
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
        text = _string(value, _at(path, index), label=label, limit=_MAX_PARAMETER)
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
        where = _at(path, str(name))
        key = _parameter_name(name, where)
        label = f"template parameter {{{{{key}}}}}"
        text = _string(value, where, label=label, limit=_MAX_PARAMETER)
        parameters.append({"type": "text", "parameter_name": key, "text": text})
    return parameters


def _template_header(value: object, path: str, *, named: bool | None) -> dict[str, Any]:
    """The header component; ``named`` is whether the body's parameters are (None: no body)."""
    data = _object(
        value, path, ("type", "text", "parameter_name", "url", "media_id"), label="header"
    )
    kind = _one_of(
        data.get("type"), _at(path, "type"), ("text", *_MEDIA_HEADERS), label="header type"
    )
    if kind != "text":
        _object(data, path, ("type", "url", "media_id"), label=f"the {kind} header")
        ref = _media_object(kind, data.get("media_id"), data.get("url"), path, "url")
        return {"type": "header", "parameters": [{"type": kind, kind: ref}]}
    _object(data, path, ("type", "text", "parameter_name"), label="a text header")
    text = _string(
        data.get("text"), _at(path, "text"), label="header text", limit=_MAX_HEADER_PARAMETER
    )
    parameter: dict[str, Any] = {"type": "text", "text": text}
    name_path = _at(path, "parameter_name")
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
    given = _items(value, path, label="buttons", most=_MAX_TEMPLATE_BUTTONS, least=0)
    for position, item in enumerate(given):
        where = _at(path, position)
        data = _object(
            item, where, ("sub_type", "index", "text", "payload", "code"), label="a button"
        )
        sub_type = _one_of(
            data.get("sub_type"),
            _at(where, "sub_type"),
            tuple(_BUTTON_PARAMETERS),
            label="sub_type",
        )
        key, label, parameter_type, limit = _BUTTON_PARAMETERS[sub_type]
        _object(data, where, ("sub_type", "index", key), label=f"a {sub_type} button")
        index = data.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ContentError(_at(where, "index"), f"index must be a number, not {_kind(index)}")
        if not 0 <= index < _MAX_TEMPLATE_BUTTONS:
            raise ContentError(
                _at(where, "index"),
                f"index {index} is out of range 0 to {_MAX_TEMPLATE_BUTTONS - 1}",
            )
        _unique(str(index), indexes, _at(where, "index"), label="index")
        text = _string(data.get(key), _at(where, key), label=label, limit=limit)
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
    path = _at(at, "params")
    named: bool | None = None
    body: list[dict[str, Any]] = []
    if isinstance(params, Mapping):
        body, named = _named(params, path), bool(params) or None
    elif isinstance(params, list | tuple):
        body, named = _positional(params, path), False if params else None
    elif params is not None:
        raise ContentError(
            path,
            f"params must be a list of values or an object of named values, not {_kind(params)}",
        )
    components: list[dict[str, Any]] = []
    if header is not None:
        components.append(_template_header(header, _at(at, "header"), named=named))
    if body:
        components.append({"type": "body", "parameters": body})
    if buttons is not None:
        components += _template_buttons(buttons, _at(at, "buttons"))
    return components


def _graph_components(value: object, path: str) -> list[dict[str, Any]]:
    """Components in the Graph API's own form: shape checked, then copied as they are."""
    checked: list[dict[str, Any]] = []
    for index, item in enumerate(_items(value, path, label="components", least=0)):
        where = _at(path, index)
        if not isinstance(item, Mapping):
            raise ContentError(where, f"a component must be an object, not {_kind(item)}")
        kind = _string(item.get("type"), _at(where, "type"), label="component type")
        if kind.lower() not in _COMPONENT_TYPES:
            expected = ", ".join(sorted(_COMPONENT_TYPES))
            raise ContentError(
                _at(where, "type"), f"component type {kind!r} is not one of {expected}"
            )
        if kind.lower() == "button":
            _string(item.get("sub_type"), _at(where, "sub_type"), label="sub_type")
            index_value = item.get("index")
            if isinstance(index_value, bool) or not (
                isinstance(index_value, int)
                or (isinstance(index_value, str) and index_value.isdecimal())
            ):
                raise ContentError(_at(where, "index"), "a button component needs its index")
        if "parameters" in item:
            parameters_path = _at(where, "parameters")
            parameters = _items(item["parameters"], parameters_path, label="parameters", least=0)
            for number, parameter in enumerate(parameters):
                at = _at(parameters_path, number)
                if not isinstance(parameter, Mapping):
                    raise ContentError(at, f"a parameter must be an object, not {_kind(parameter)}")
                _string(parameter.get("type"), _at(at, "type"), label="parameter type")
        checked.append(copy.deepcopy(dict(item)))
    return checked


def _template_body(
    name: object, language: object, components: list[dict[str, Any]], at: str
) -> dict[str, Any]:
    template: dict[str, Any] = {
        "name": _string(name, _at(at, "name"), label="template name"),
        "language": {"code": _string(language, _at(at, "language"), label="template language")},
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
    return _message(to, "template", body, reply_to)


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
