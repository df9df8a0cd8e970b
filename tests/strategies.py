"""Hypothesis strategies the bad-input tests share: Meta's recorded webhooks, broken on purpose
(keys dropped, types changed, nesting wrong, strings huge, empty or odd, nulls)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Final

from hypothesis import strategies as st

__all__ = [
    "EVERY_ODD_VALUE",
    "ODD_STRINGS",
    "field_names",
    "load_samples",
    "mutated",
    "odd_values",
    "replace_everywhere",
]


def load_samples(shared_dir: Path) -> dict[str, dict[str, Any]]:
    """Every recorded webhook of ``shared/meta/samples/pywa``, keyed ``file/sample``."""
    samples: dict[str, dict[str, Any]] = {}
    for file in sorted((shared_dir / "meta" / "samples" / "pywa").glob("*.json")):
        for name, payload in json.loads(file.read_text()).items():
            samples[f"{file.stem}/{name}"] = payload
    return samples


#: Strings a sender may put anywhere: empty, blank, control characters, a lone surrogate
#: (JSON allows the escape), right-to-left, emoji, and far too long.
ODD_STRINGS: Final = (
    "",
    " ",
    "\x00",
    "\ud800",
    "\u202eevil",
    "🙂" * 50,
    "é" * 5_000,
    "x" * 200_000,
    "1700000000",
    "-1",
    "1e400",
    "nan",
    "sha256=",
    "wamid.HBgL",
)
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=20),
    st.just([]),
    st.just({}),
    st.lists(st.none() | st.integers() | st.text(max_size=4), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree, the root included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def field_names(node: Any) -> set[str]:
    """Every key name used anywhere in a JSON tree."""
    return {path[-1] for path in _paths(node) if path and isinstance(path[-1], str)}


def replace_everywhere(node: Any, key: str, value: Any) -> None:
    if isinstance(node, dict):
        for name in node:
            if name == key:
                node[name] = copy.deepcopy(value)
            else:
                replace_everywhere(node[name], key, value)
    elif isinstance(node, list):
        for item in node:
            replace_everywhere(item, key, value)


@st.composite
def mutated(draw: st.DrawFn, samples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One recorded sample with one to four places broken."""
    payload = copy.deepcopy(samples[draw(st.sampled_from(sorted(samples)))])
    if draw(st.booleans()):
        # One field broken wherever it appears (every timestamp, every id...): the likeliest
        # way to reach the code that reads that field, whatever the sample.
        key = draw(st.sampled_from(sorted(field_names(payload))))
        replace_everywhere(payload, key, draw(odd_values))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(payload)[1:]  # the root stays an object: that case is the parser's own
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(payload, path[:-1]), path[-1]
        current = parent[key]
        operation = draw(
            st.sampled_from(["drop", "replace", "wrap", "unwrap", "duplicate", "empty"])
        )
        if operation == "drop":
            del parent[key]
        elif operation == "replace":
            parent[key] = draw(odd_values)
        elif operation == "wrap":  # wrong nesting: one level too deep
            parent[key] = draw(st.sampled_from([[current], {"value": current}]))
        elif operation == "unwrap" and isinstance(current, dict | list) and current:
            inner = list(current.values()) if isinstance(current, dict) else current
            parent[key] = draw(st.sampled_from(inner))  # one level too shallow
        elif operation == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(current))
        else:
            parent[key] = type(current)() if isinstance(current, str | list | dict) else None
    return payload


#: Every odd value once, as one field of a sample may become any of them.
EVERY_ODD_VALUE: Final = (
    *ODD_STRINGS,
    None,
    True,
    0,
    -1,
    2**70,
    1e308,
    [],
    {},
    [None],
    {"": None},
)
