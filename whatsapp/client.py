"""The async Graph API client: sends messages, marks them read, fetches media and templates.

Transient failures (per ``whatsapp.errors.CLASSIFICATION``, any 5xx, network errors) are
retried with exponential backoff and jitter, up to ``max_attempts``; everything else raises at
once. A send whose request may have reached Meta before the connection broke is never
retried here: its outcome is unknown. Every failure surfaces as ``MetaAPIError`` or
``MetaTransportError``, both ``bridge.errors.DeliveryError``; a message Meta would refuse
for its shape fails before any call.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Self
from urllib.parse import urlsplit

import httpx

from bridge.domain import DeliveryProblem, FailureKind, MessageTemplate
from bridge.errors import DeliveryError
from bridge.ports import Api, CallObserver, MediaFile, Unobserved
from whatsapp import outbound
from whatsapp.errors import MetaAPIError, MetaTransportError, is_unknown_object
from whatsapp.media import MediaInfo, parse_media_info
from whatsapp.outbound import read_receipt_payload, template_payload, text_payload
from whatsapp.pacing import MetaPacing
from whatsapp.templates import parse_template, send_components

__all__ = ["WhatsAppClient"]

log = logging.getLogger(__name__)

#: Stops a paging loop whose cursor never ends (a Meta bug must not hang a sync).
_MAX_PAGES: Final = 100
#: Media is streamed to disk in pieces this big: memory stays flat whatever the file's size.
_CHUNK: Final = 256 * 1024
#: The Graph API edges the bridge calls, named in metrics; any other path is a ``node``
#: (``GET /{media-id}``, ``GET /{phone-number-id}``), so no id becomes a label.
_EDGES: Final = frozenset({"messages", "media", "message_templates", "subscribed_apps"})


def _download_refused(error: MetaAPIError) -> MetaAPIError:
    """A media file's own URL refused (not the Graph API: a CDN's signed link). A 401 or 403
    there is that link expired or refused, not our credentials (fetching its URL from the
    Graph API just worked): worth a retry, which asks for a new link. A 404 or 410 is the
    file gone. An answer with Meta's own code keeps that code's meaning."""
    if error.code is not None or error.http_status is None:
        return error
    status = error.http_status
    kind = (
        FailureKind.TRANSIENT
        if status in (401, 403, 408, 429) or status >= 500
        else FailureKind.PERMANENT
    )
    return MetaAPIError(
        code=None,
        title=f"The file's download link answered HTTP {status}",
        details=error.details,
        kind=kind,
        problem=DeliveryProblem.MEDIA_FAILED,
        http_status=status,
    )


def _too_large(size: int, limit: int) -> DeliveryError:
    return DeliveryError(
        code=None,
        title="The file is too large to relay",
        details=f"{size} bytes; the limit is {limit}",
        kind=FailureKind.PERMANENT,
        problem=DeliveryProblem.MEDIA_TOO_LARGE,
        reason="media_too_large",
    )


#: Failures that happen before a request's bytes can have reached Meta: safe to retry.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError)


def _build(make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A payload, or the permanent error Meta would answer it with, without asking Meta."""
    try:
        return make()
    except ValueError as error:
        raise DeliveryError(
            code=None,
            title="WhatsApp would refuse this message",
            details=str(error),
            kind=FailureKind.PERMANENT,
            problem=DeliveryProblem.INVALID_MESSAGE,
            reason="meta:invalid_payload",
        ) from None


class WhatsAppClient:
    """Satisfies ``bridge.ports.WhatsApp`` over httpx; use ``async with`` or call ``aclose()``."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        access_token: str,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff: float = 0.5,
        token_for: Callable[[str], Awaitable[str | None]] | None = None,
        calls: CallObserver | None = None,
        pacing: MetaPacing | None = None,
    ) -> None:
        """``token_for`` gives a business number's own access token (None: ``access_token``),
        for a bridge with several numbers; ``calls`` hears the outcome of every request;
        ``pacing`` paces sends (``whatsapp.pacing``)."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._root = f"{base_url.rstrip('/')}/{version.strip('/')}"
        self._token = access_token
        self._token_for = token_for
        #: Every token this client used, kept out of error texts.
        self._tokens = {access_token} if access_token else set()
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._calls = calls or Unobserved()
        self._pacing = pacing

    def __repr__(self) -> str:  # the token stays out of every repr and traceback
        return f"WhatsAppClient(root={self._root!r}, max_attempts={self._max_attempts})"

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- the bridge.ports.WhatsApp port ---------------------------------------------------

    async def send_text(
        self, *, phone_number_id: str, to: str, text: str, reply_to: str | None = None
    ) -> str:
        """Send a text message; returns its wamid."""
        payload = _build(lambda: text_payload(to, text, reply_to=reply_to))
        return await self.send_payload(phone_number_id, payload)

    async def send_template(
        self,
        *,
        phone_number_id: str,
        to: str,
        template: MessageTemplate,
        values: Mapping[str, str],
    ) -> str:
        """Send an approved template filled with ``values``; returns its wamid."""
        components = send_components(template, values)
        payload = _build(lambda: template_payload(to, template.name, template.language, components))
        return await self.send_payload(phone_number_id, payload)

    async def send_message(
        self,
        *,
        phone_number_id: str,
        to: str,
        message_type: str,
        content: Mapping[str, Any],
        reply_to: str | None = None,
    ) -> str:
        """Send a message in CONTRACT.md's content form; returns its wamid."""
        payload = _build(
            lambda: outbound.content_payload(to, message_type, content, reply_to=reply_to)
        )
        return await self.send_payload(phone_number_id, payload)

    async def upload_media(
        self, *, phone_number_id: str, path: Path, mime_type: str, filename: str
    ) -> str:
        """``POST /{phone_number_id}/media``, multipart, streamed from disk; the media id.
        An upload is harmless to repeat (an unused one expires), so it is retried."""
        ctx = {"phone_number_id": phone_number_id, "mime_type": mime_type}
        with path.open("rb") as file:
            response = await self._request(
                "POST",
                f"{self._root}/{phone_number_id}/media",
                data={"messaging_product": "whatsapp", "type": mime_type},
                files={"file": (filename, file, mime_type)},
                ctx=ctx,
                rewind=file,
                number=phone_number_id,
            )
        media_id = _json_object(response).get("id")
        if not isinstance(media_id, str) or not media_id:
            raise MetaAPIError(
                code=None,
                title="Meta took the upload but returned no media id",
                kind=FailureKind.TRANSIENT,
                http_status=response.status_code,
            )
        log.info("meta media uploaded", extra={**ctx, "media_id": media_id})
        return media_id

    async def display_number(self, phone_number_id: str) -> str:
        """The business number's phone number, digits only."""
        response = await self._request(
            "GET",
            f"{self._root}/{phone_number_id}",
            params={"fields": "display_phone_number"},
            ctx={"phone_number_id": phone_number_id},
            number=phone_number_id,
        )
        shown = _json_object(response).get("display_phone_number")
        digits = "".join(c for c in shown if c.isdigit()) if isinstance(shown, str) else ""
        if not digits:
            raise MetaAPIError(
                code=None,
                title="Meta's answer had no display_phone_number",
                kind=FailureKind.PERMANENT,
                http_status=response.status_code,
            )
        return digits

    async def templates(
        self, waba_id: str, *, phone_number_id: str | None = None
    ) -> list[MessageTemplate]:
        """Every template of a WhatsApp Business Account, parsed (read with the token of
        ``phone_number_id``, a number of that account; None: the default token)."""
        listed = await self.list_templates(waba_id, phone_number_id=phone_number_id)
        return [parse_template(data) for data in listed]

    async def mark_read(self, *, phone_number_id: str, wamid: str) -> None:
        """Mark a customer's message (and the earlier ones) read."""
        await self._request(
            "POST",
            f"{self._root}/{phone_number_id}/messages",
            json=read_receipt_payload(wamid),
            ctx={"phone_number_id": phone_number_id, "wamid": wamid},
            number=phone_number_id,
        )
        log.info(
            "meta marked read",
            extra={"phone_number_id": phone_number_id, "wamid": wamid},
        )

    # --- beyond the port ------------------------------------------------------------------

    async def send_payload(self, phone_number_id: str, payload: Mapping[str, Any]) -> str:
        """POST any ``whatsapp.outbound`` payload; returns the new message's wamid."""
        ctx = {"phone_number_id": phone_number_id}
        to = payload.get("to")
        if self._pacing is not None:
            await self._pacing.before_send(phone_number_id, to if isinstance(to, str) else None)
        try:
            response = await self._request(
                "POST",
                f"{self._root}/{phone_number_id}/messages",
                json=dict(payload),
                ctx=ctx,
                repeatable=False,
                number=phone_number_id,
            )
        except DeliveryError as error:
            if self._pacing is not None:
                await self._pacing.refused(phone_number_id, error)
            raise
        wamid = _first_message_id(response)
        if wamid is None:
            raise MetaAPIError(
                code=None,
                title="Meta accepted the message but returned no message id",
                kind=FailureKind.UNKNOWN_OUTCOME,
                problem=DeliveryProblem.UNKNOWN_OUTCOME,
                http_status=response.status_code,
            )
        log.info(
            "meta message accepted",
            extra={**ctx, "wamid": wamid, "message_type": payload.get("type")},
        )
        return wamid

    async def get_media(self, media_id: str, *, phone_number_id: str | None = None) -> MediaInfo:
        """The short-lived download URL and facts of an uploaded or received media object
        (with the credentials of the number it came to)."""
        try:
            response = await self._request(
                "GET",
                f"{self._root}/{media_id}",
                ctx={"media_id": media_id},
                number=phone_number_id,
            )
        except MetaAPIError as error:
            if is_unknown_object(error):  # kept for a limited time, then gone
                error.problem = DeliveryProblem.MEDIA_GONE
            raise
        try:
            return parse_media_info(_json_object(response), media_id)
        except ValueError as error:
            raise MetaAPIError(
                code=None,
                title="Meta's media answer had no download URL",
                details=str(error),
                kind=FailureKind.PERMANENT,
                http_status=response.status_code,
            ) from None

    async def download_media(self, url: str) -> bytes:
        """The bytes behind a ``MediaInfo.url`` (the bearer token is required there too)."""
        response = await self._request("GET", url, ctx={"media_host": urlsplit(url).hostname})
        return response.content

    async def fetch_media(
        self,
        media_id: str,
        dest: Path,
        *,
        max_bytes: int,
        phone_number_id: str | None = None,
    ) -> MediaFile:
        """Download a media object to ``dest`` in chunks, within its URL's short life."""
        info = await self.get_media(media_id, phone_number_id=phone_number_id)
        if info.file_size is not None and info.file_size > max_bytes:
            raise _too_large(info.file_size, max_bytes)
        headers = {"Authorization": f"Bearer {await self._token_of(phone_number_id)}"}
        size = 0
        try:
            async with self._http.stream(
                "GET", info.url, headers=headers, timeout=self._timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    refused = _download_refused(MetaAPIError.from_response(response))
                    self._observed("GET", info.url, refused)
                    raise refused
                self._observed("GET", info.url, None)
                with dest.open("wb") as out:
                    async for chunk in response.aiter_bytes(_CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise _too_large(size, max_bytes)
                        out.write(chunk)
        except httpx.TransportError as exc:
            error = MetaTransportError(self._scrub(f"{type(exc).__name__}: {exc}"))
            self._observed("GET", info.url, error)
            raise error from None
        log.info("meta media fetched", extra={"media_id": media_id, "bytes": size})
        return MediaFile(mime_type=info.mime_type, size=size)

    async def get_object(self, path: str) -> dict[str, Any]:
        """``GET /{version}/{path}`` as a JSON object (``me``, ``{waba_id}/subscribed_apps``)."""
        response = await self._request("GET", f"{self._root}/{path}", ctx={"path": path})
        return _json_object(response)

    async def list_templates(
        self, waba_id: str, *, phone_number_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every template of a WhatsApp Business Account, following the pages to the end."""
        url = f"{self._root}/{waba_id}/message_templates"
        ctx = {"waba_id": waba_id}
        params: dict[str, str] = {}
        templates: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            answer = await self._request("GET", url, params=params, ctx=ctx, number=phone_number_id)
            body = _json_object(answer)
            templates.extend(t for t in body.get("data") or () if isinstance(t, dict))
            paging = body.get("paging")
            paging = paging if isinstance(paging, dict) else {}
            cursors = paging.get("cursors")
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not paging.get("next"):  # Graph API omits `next` on the last page
                break
            if isinstance(after, str) and after and after != params.get("after"):
                params = {"after": after}
            elif isinstance(paging["next"], str) and self._same_origin(paging["next"]):
                url, params = paging["next"], {}
            else:
                log.warning("meta templates paging stopped: no usable cursor", extra=ctx)
                break
        else:
            log.warning("meta templates paging stopped after %d pages", _MAX_PAGES, extra=ctx)
        log.info("meta templates listed", extra={**ctx, "count": len(templates)})
        return templates

    # --- plumbing -------------------------------------------------------------------------

    def _same_origin(self, url: str) -> bool:
        # Never send the bearer token to a host other than the Graph API root's.
        mine, theirs = urlsplit(self._root), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        json: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, BinaryIO, str]] | None = None,
        rewind: BinaryIO | None = None,
        ctx: Mapping[str, object],
        repeatable: bool = True,
        number: str | None = None,
    ) -> httpx.Response:
        """One call with retries; returns a 2xx response or raises a ``DeliveryError``.

        ``repeatable=False`` (a send): once the request may have reached Meta, a broken
        connection is an unknown outcome, raised at once, never retried.
        """
        headers = {"Authorization": f"Bearer {await self._token_of(number)}"}
        attempt = 0
        while True:
            attempt += 1
            error: MetaAPIError | MetaTransportError
            if rewind is not None:
                rewind.seek(0)  # a multipart body is read again on each try
            try:
                response = await self._http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:  # connect, read, write, pool, protocol errors
                error = MetaTransportError(
                    self._scrub(f"{type(exc).__name__}: {exc}"),
                    sent=not repeatable and not isinstance(exc, _NOT_SENT),
                )
            else:
                if response.is_success:
                    self._observed(method, url, None)
                    return response
                error = MetaAPIError.from_response(response)
            self._observed(method, url, error)
            fields = {
                **ctx,
                "error_code": error.code,
                "http_status": error.http_status,
                "fbtrace_id": error.fbtrace_id,
                "attempt": attempt,
            }
            if not error.transient or attempt >= self._max_attempts:
                log.warning(
                    "meta request failed",
                    extra={**fields, "path": urlsplit(url).path, "error_title": error.title},
                )
                raise error
            delay = self._delay(attempt)
            log.info(
                "meta transient failure, retrying",
                extra={**fields, "path": urlsplit(url).path, "retry_in": round(delay, 2)},
            )
            await asyncio.sleep(delay)

    def _observed(
        self, method: str, url: str, error: MetaAPIError | MetaTransportError | None
    ) -> None:
        """Report one request's outcome (``ok``, Meta's code, ``http_NNN`` or ``connection``)."""
        if error is None:
            outcome = "ok"
        elif isinstance(error, MetaTransportError):
            outcome = "connection"
        else:
            outcome = str(error.code) if error.code is not None else f"http_{error.http_status}"
        throttled = error is not None and (
            error.http_status == 429 or error.kind == FailureKind.THROTTLED
        )
        self._calls.api_call(
            api=Api.META,
            method=self._operation(method, url),
            outcome=outcome,
            rate_limited=throttled,
        )

    def _operation(self, method: str, url: str) -> str:
        """``POST messages``, ``GET message_templates``...: the Graph API edge, without ids."""
        if not self._same_origin(url):
            return f"{method} media_download"
        edge = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        return f"{method} {edge if edge in _EDGES else 'node'}"

    def _delay(self, attempt: int) -> float:
        # Full exponential step plus up to one base step of jitter, so that many workers
        # throttled at once do not come back in lockstep.
        step: float = self._backoff * 2 ** (attempt - 1)
        return step + random.uniform(0, self._backoff)

    async def _token_of(self, phone_number_id: str | None) -> str:
        """The number's own token when it has one, else the environment's."""
        if phone_number_id is None or self._token_for is None:
            return self._token
        own = await self._token_for(phone_number_id)
        if not own:
            return self._token
        self._tokens.add(own)
        return own

    def _scrub(self, text: str) -> str:
        for token in self._tokens:
            text = text.replace(token, "***")
        return text


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MetaAPIError(
            code=None,
            title="Meta answered with something that is not a JSON object",
            kind=FailureKind.PERMANENT,
            http_status=response.status_code,
        )
    return body


def _first_message_id(response: httpx.Response) -> str | None:
    messages = _json_object(response).get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    return wamid if isinstance(wamid, str) and wamid else None
