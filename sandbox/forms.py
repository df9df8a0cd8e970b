"""Request body parsing without python-multipart (which the project does not depend on)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FormPart", "maybe_json", "parse_multipart", "parse_urlencoded"]


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field of a multipart/form-data body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        """The field decoded as UTF-8."""
        return self.data.decode("utf-8", errors="replace")


def parse_urlencoded(body: bytes) -> dict[str, str]:
    """Parse an `application/x-www-form-urlencoded` body; the last value of a key wins."""
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _header_params(value: str) -> Message:
    msg = Message()
    msg["content-type"] = value
    return msg


def parse_multipart(body: bytes, content_type: str) -> list[FormPart]:
    """Parse a `multipart/form-data` body into its parts, in order."""
    boundary = _header_params(content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    parts: list[FormPart] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        raw_headers, _, data = chunk.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in raw_headers.decode("utf-8", errors="replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        # Content-Disposition has the same parameter syntax as Content-Type.
        disposition = _header_params("form-data; " + headers.get("content-disposition", ""))
        name = disposition.get_param("name")
        filename = disposition.get_param("filename")
        parts.append(
            FormPart(
                name=name if isinstance(name, str) else "",
                data=data,
                filename=filename if isinstance(filename, str) else None,
                content_type=headers.get("content-type"),
            )
        )
    return parts


def maybe_json(value: Any) -> Any:
    """Decode `value` when it is a JSON array or object sent as a string (form bodies do that)."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
