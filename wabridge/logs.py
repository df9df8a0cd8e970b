"""Logging, configured once: one event per line, ids as fields, secrets scrubbed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["also_redact", "configure_logging"]

# Attributes every LogRecord has; anything else came in through ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(record).items()
        if k not in _STANDARD and k != "color_message" and not k.startswith("_")
    }


class _Scrubber:
    """Replaces every secret, however short, with ``[redacted]``.

    A secret is also looked for as ``repr()`` and ``json.dumps()`` escape it, since a value
    can reach a line inside a container's repr or an exception's repr.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these too from now on (secrets learnt after start: numbers' own tokens)."""
        forms: set[str] = set(self._secrets)
        for secret in secrets:
            if secret:
                forms |= {
                    secret,
                    repr(secret)[1:-1],
                    json.dumps(secret)[1:-1],
                    json.dumps(secret, ensure_ascii=False)[1:-1],
                }
        # Replaced whole, never changed in place: a line being formatted meanwhile is safe.
        self._secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        # Spans of every occurrence, overlapping ones included, redacted in one pass: replacing
        # secret after secret would leave the rest of one that overlaps a replaced one, and
        # would search the "[redacted]" markers for short secrets.
        spans: list[tuple[int, int]] = []
        for secret in self._secrets:
            start = text.find(secret)
            while start != -1:
                spans.append((start, start + len(secret)))
                start = text.find(secret, start + 1)
        if not spans:
            return text
        spans.sort()
        parts: list[str] = []
        done = 0  # the text before this is already written out or redacted
        for start, stop in spans:
            if start >= done:
                parts += [text[done:start], "[redacted]"]
                done = stop
            elif stop > done:  # overlaps the redaction just written: widen it
                done = stop
        parts.append(text[done:])
        return "".join(parts)

    def value(self, value: Any) -> Any:
        """``value`` ready for ``json.dumps``, with every string in it scrubbed."""
        if isinstance(value, str):
            return self(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        return self(str(value))


class TextFormatter(logging.Formatter):
    def __init__(self, scrub: _Scrubber) -> None:
        super().__init__()
        self._scrub = self.scrubber = scrub

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            # Scrubbed before repr() too, so no escaping can hide a secret from the final pass.
            line += " exc=" + repr(self._scrub(self.formatException(record.exc_info)))
        return self._scrub(line)


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: _Scrubber) -> None:
        super().__init__()
        self._scrub = self.scrubber = scrub

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # Values are scrubbed before encoding: JSON escapes (\u00e9, \") would hide a secret
        # from a scrub of the encoded line, and that scrub could cut an escape in two.
        return json.dumps({key: self._scrub.value(value) for key, value in data.items()})


def configure_logging(*, fmt: str, secrets: Iterable[str], level: int = logging.INFO) -> None:
    """Route every logger to stderr, one line per event, with ``secrets`` never shown."""
    scrub = _Scrubber(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(scrub) if fmt == "json" else TextFormatter(scrub))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    noisy = ["httpx", "httpcore", "aiosqlite", "slack_sdk", "slack_bolt", "apscheduler"]
    # Alembic logs each of its plugins at INFO whenever it sets up a migration context.
    noisy.append("alembic.runtime.plugins")
    for name in noisy:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def also_redact(secrets: Iterable[str]) -> None:
    """Keep ``secrets`` out of every later line too (on top of those ``configure_logging``
    was given): the access tokens and app secrets of numbers added with ``numbers add``."""
    values = [secret for secret in secrets if secret]
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, TextFormatter | JsonFormatter):
            formatter.scrubber.add(values)
