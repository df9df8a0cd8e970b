"""Message templates of the simulated WABA: defaults, cursor paging and send-time checks."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from sandbox.meta_validation import GraphError

__all__ = ["DEFAULT_TEMPLATES", "check_template_send", "page_templates"]

DEFAULT_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "name": "hello_world",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {
                "type": "BODY",
                "text": "Welcome and congratulations!! This message demonstrates your ability "
                "to send a WhatsApp message notification from the Cloud API, hosted by Meta.",
            },
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
        ],
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": "1100000000000001",
    },
    {
        "name": "order_update",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} has shipped.",
                "example": {"body_text": [["Maria", "#1042"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}],
            },
        ],
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": "1100000000000002",
    },
    {
        "name": "promo_paused",
        "parameter_format": "NAMED",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{first_name}}, everything is 20% off this week.",
                "example": {
                    "body_text_named_params": [{"param_name": "first_name", "example": "Maria"}]
                },
            }
        ],
        "language": "en",
        "status": "PAUSED",
        "category": "MARKETING",
        "id": "1100000000000003",
    },
)

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode()


def _uncursor(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor.encode(), validate=True).decode())
    except ValueError as exc:
        raise GraphError(100, "Invalid parameter", f"Invalid cursor {cursor!r}.") from exc


def page_templates(
    templates: Sequence[Mapping[str, Any]], query: Mapping[str, str], self_url: str
) -> dict[str, Any]:
    """One page of `templates` for the query params `limit`, `after`, `name`, `status`, `category`.

    Cursors are opaque (base64 of the index); `paging.next` is present only when more remain.
    """
    selected = [
        dict(t)
        for t in templates
        if query.get("name", "") in str(t.get("name", ""))
        and all(
            query[key].upper() == str(t.get(key, "")).upper()
            for key in ("status", "category", "language")
            if query.get(key)
        )
    ]
    try:
        limit = max(1, min(int(query.get("limit", "25")), 1000))
    except ValueError as exc:
        raise GraphError(100, "Invalid parameter", "Param limit must be an integer.") from exc
    start = _uncursor(query["after"]) + 1 if query.get("after") else 0
    chunk = selected[start : start + limit]
    paging: dict[str, Any] = {}
    if chunk:
        end = start + len(chunk) - 1
        paging["cursors"] = {"before": _cursor(start), "after": _cursor(end)}
        if end + 1 < len(selected):
            params = {k: v for k, v in query.items() if k != "after"}
            params.update(limit=str(limit), after=_cursor(end))
            paging["next"] = f"{self_url}?{urlencode(params)}"
    return {"data": chunk, "paging": paging}


def _placeholders(template: Mapping[str, Any], component_type: str) -> list[str]:
    names: list[str] = []
    for component in template.get("components", []):
        if str(component.get("type", "")).upper() == component_type:
            if str(component.get("format", "TEXT")).upper() != "TEXT":
                # A media or location header takes exactly one parameter.
                return ["header_media"]
            for name in _PLACEHOLDER.findall(str(component.get("text", ""))):
                if name not in names:
                    names.append(name)
    return names


def _sent_params(template_body: Mapping[str, Any], component_type: str) -> list[Mapping[str, Any]]:
    for component in template_body.get("components") or []:
        if str(component.get("type", "")).upper() == component_type:
            params = component.get("parameters") or []
            return [p for p in params if isinstance(p, Mapping)]
    return []


def check_template_send(
    templates: Sequence[Mapping[str, Any]], template_body: Mapping[str, Any]
) -> None:
    """Raise the GraphError Meta answers when a template send names or fills a template wrongly."""
    name = template_body["name"]
    code = template_body["language"]["code"]
    found = next(
        (t for t in templates if t.get("name") == name and t.get("language") == code), None
    )
    if found is None:
        raise GraphError(
            132001,
            "Template name does not exist in the translation",
            f"template name ({name}) does not exist in {code}",
        )
    status = str(found.get("status", "")).upper()
    if status == "PAUSED":
        raise GraphError(132015, "Template is Paused", f"Template {name} is paused.")
    if status == "DISABLED":
        raise GraphError(132016, "Template is Disabled", f"Template {name} is disabled.")
    if status != "APPROVED":
        raise GraphError(
            132001,
            "Template name does not exist in the translation",
            f"template name ({name}) is not approved in {code}",
        )
    named = str(found.get("parameter_format", "POSITIONAL")).upper() == "NAMED"
    for component_type in ("HEADER", "BODY"):
        expected = _placeholders(found, component_type)
        sent = _sent_params(template_body, component_type)
        where = component_type.lower()
        if len(sent) != len(expected):
            raise GraphError(
                132000,
                "Number of parameters does not match the expected number of params",
                f"{where}: number of localizable_params ({len(sent)}) does not match "
                f"the expected number of params ({len(expected)})",
            )
        if (
            named
            and expected != ["header_media"]
            and sorted(str(p.get("parameter_name")) for p in sent) != sorted(expected)
        ):
            raise GraphError(
                132000,
                "Number of parameters does not match the expected number of params",
                f"{where}: parameter names must be {', '.join(expected)}",
            )
