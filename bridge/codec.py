"""Frozen dataclasses to JSON-safe values and back, by their type hints.

Used for what the core stores as JSON: queued jobs and message templates. It knows ints,
strings, booleans, floats, datetimes, enums, optionals, tuples and nested dataclasses, and
refuses anything else with a ``TypeError`` or ``ValueError`` naming what was wrong.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar, Union

__all__ = ["from_json", "to_json"]

T = TypeVar("T")


#: Values JSON holds as they are (exact types: an enum deriving from str is not one).
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
#: Field names by type (None: not a dataclass), found once: ``dataclasses.fields`` and
#: ``is_dataclass`` are slow beside the rest.
_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(value: Any) -> tuple[str, ...] | None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(f.name for f in dataclasses.fields(value))
    return None


def to_json(value: Any) -> Any:
    """A dataclass (or any value it holds) as JSON-safe values."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    try:
        names = _FIELDS[kind]
    except KeyError:
        names = _FIELDS[kind] = _field_names(value)
    if names is not None:
        # Plain fields (most of them) are taken as they are, without a call each: a job's
        # payload is encoded for every job queued (thousands at once by a window scan).
        encoded = {}
        for name in names:
            field = getattr(value, name)
            encoded[name] = field if type(field) in _PLAIN else to_json(field)
        return encoded
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [v if type(v) in _PLAIN else to_json(v) for v in value]
    return value


def from_json(cls: type[T], value: Any) -> T:
    """The ``cls`` instance ``value`` describes; fields it lacks take their defaults."""
    return typing.cast(T, _read(cls, value))


def _read(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise ValueError("a value is required")
        (inner,) = [o for o in options if o is not type(None)]
        return _read(inner, value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError("expected a list")
        item = typing.get_args(hint)[0]
        return tuple(_read(item, v) for v in value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, Mapping):
            raise TypeError(f"{hint.__name__} needs an object")
        hints = _hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        args = {name: _read(hints[name], value[name]) for name in known if name in value}
        return hint(**args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected {getattr(hint, '__name__', hint)}, got {type(value).__name__}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]
