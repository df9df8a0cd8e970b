"""A local simulator of the Meta WhatsApp Cloud API (Graph API) and of Meta's webhook deliveries.

It serves the Graph endpoints the bridge calls (send, mark read, media, templates) over real
HTTP on loopback, records every call, and POSTs signed webhooks (inbound messages on demand,
statuses after each send) to the bridge's `webhook_url`.

The helpers that POST to the bridge are synchronous: from a coroutine, call them through
`asyncio.to_thread`, or a bridge served by the same event loop could never answer.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.forms import FormPart, parse_multipart
from sandbox.meta_payloads import (
    account_change_webhook,
    error_envelope,
    messages_webhook,
    new_wamid,
    sign_body,
    status_error,
    status_object,
    statuses_webhook,
    text_message,
)
from sandbox.meta_templates import DEFAULT_TEMPLATES, check_template_send, page_templates
from sandbox.meta_validation import GraphError, validate_send
from sandbox.senders import Outbox, wait_for
from sandbox.server import ServedApp, forgive_disconnects

__all__ = ["GraphCall", "MetaSimulator"]

_UNKNOWN_OBJECT = (
    "Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, "
    "or does not support this operation."
)
_WINDOW_CLOSED = (
    "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number."
)


@dataclass(frozen=True, slots=True)
class GraphCall:
    """One request the simulated Graph API received (control endpoints excluded)."""

    method: str
    path: str
    version: str
    json: Any
    headers: dict[str, str]
    #: When it arrived, its body read (before the simulator's own work on it, as the Slack
    #: simulator stamps a post's ``ts``).
    at: float
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0


@dataclass(frozen=True, slots=True)
class _Media:
    content: bytes
    mime_type: str

    def info(self, media_id: str, base_url: str) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "url": f"{base_url}/media-download/{media_id}",
            "mime_type": self.mime_type,
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "file_size": len(self.content),
            "id": media_id,
        }


@dataclass(frozen=True, slots=True)
class _Incoming:
    method: str
    path: str
    version: str
    body: bytes
    json: Any
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class _StatusStep:
    status: str
    error: dict[str, Any]


def _dumps(payload: Any) -> bytes:
    # Meta sends compact JSON with non-ASCII escaped as \uXXXX.
    return json.dumps(payload, separators=(",", ":")).encode()


def _summary(part: FormPart) -> Any:
    """A multipart field as recorded: text, or a file's name, type and size (not its bytes)."""
    if part.filename is None:
        return part.text
    return {"filename": part.filename, "content_type": part.content_type, "size": len(part.data)}


def _wa_id(to: str) -> str:
    return re.sub(r"\D", "", to)


class MetaSimulator(ServedApp):
    """The Meta Graph API on loopback: use `.url` as `META_API_BASE`."""

    _server_name = "meta-sim"

    #: Attempts and first backoff (doubling) of webhook deliveries the bridge does not accept.
    webhook_attempts = 5
    retry_backoff = 0.1

    def __init__(
        self,
        *,
        access_token: str,
        app_secret: str,
        phone_number_id: str = "1000000001",
        display_phone_number: str = "15550001111",
        waba_id: str = "2000000002",
        version: str = "v23.0",
        webhook_url: str | None = None,
        auto_statuses: Sequence[str] = ("sent", "delivered", "read"),
        status_delay: float = 0.05,
        check_templates: bool = True,
        port: int = 0,
    ) -> None:
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.version = version
        self.webhook_url = webhook_url
        self.auto_statuses: tuple[str, ...] = tuple(auto_statuses)
        self.status_delay = status_delay
        # Real Meta rejects unknown, paused or wrongly filled templates; tests may opt out.
        self.check_templates = check_templates
        self._lock = threading.Lock()
        self._phone_numbers: dict[str, str] = {phone_number_id: display_phone_number}
        self._number_tokens: dict[str, str] = {}
        self._number_secrets: dict[str, str] = {}
        self._templates: list[dict[str, Any]] = copy.deepcopy(list(DEFAULT_TEMPLATES))
        self._media: dict[str, _Media] = {}
        self._calls: list[GraphCall] = []
        self._sends: list[tuple[str, dict[str, Any]]] = []
        self._read_marks: list[str] = []
        self._deliveries: list[tuple[dict[str, Any], int]] = []
        self._failures: deque[GraphError] = deque()
        self._failed_statuses: deque[_StatusStep] = deque()
        self._latency = 0.0
        self._subscribed = True
        self._outbox: Outbox | None = None
        self._init_serving(port)
        self.app = self._build_app()

    @property
    def url(self) -> str:
        """The Graph API root to use as `META_API_BASE`, e.g. `http://127.0.0.1:54321`."""
        return self._root_url()

    # -- configuration ---------------------------------------------------------------------

    def add_phone_number(
        self,
        phone_number_id: str,
        display_phone_number: str,
        *,
        access_token: str | None = None,
        app_secret: str | None = None,
    ) -> None:
        """Register another business phone number that sends are accepted for. With an
        ``access_token`` only that token may call for the number (another Meta app's); with
        an ``app_secret`` its webhooks are signed with it."""
        with self._lock:
            self._phone_numbers[phone_number_id] = display_phone_number
            if access_token is not None:
                self._number_tokens[phone_number_id] = access_token
            if app_secret is not None:
                self._number_secrets[phone_number_id] = app_secret

    def set_templates(self, templates: list[dict[str, Any]]) -> None:
        """Replace the WABA's templates (given in Graph API shape)."""
        with self._lock:
            self._templates = copy.deepcopy(templates)

    def templates(self) -> list[dict[str, Any]]:
        """The WABA's current templates."""
        with self._lock:
            return copy.deepcopy(self._templates)

    def add_media(self, media_id: str, content: bytes, mime_type: str) -> None:
        """Make `media_id` retrievable through `GET /{version}/{media_id}`."""
        with self._lock:
            self._media[media_id] = _Media(content, mime_type)

    def get_media(self, media_id: str) -> tuple[bytes, str] | None:
        """The content and MIME type of a registered or uploaded media id."""
        with self._lock:
            media = self._media.get(media_id)
        return None if media is None else (media.content, media.mime_type)

    # -- failure injection -----------------------------------------------------------------

    def fail_next(
        self, code: int, title: str, details: str = "", http_status: int = 400, count: int = 1
    ) -> None:
        """Answer the next `count` sends (mark-as-read excluded) with this error envelope."""
        with self._lock:
            self._failures.extend(
                GraphError(code, title, details, http_status) for _ in range(count)
            )

    def fail_next_sends_with_status(
        self,
        wamid_status: str = "failed",
        code: int = 131047,
        title: str = "Re-engagement message",
        message: str | None = None,
        details: str = _WINDOW_CLOSED,
        count: int = 1,
    ) -> None:
        """Accept the next `count` sends, then report them by a `failed` status webhook only."""
        error = status_error(code, title, message or title, details)
        with self._lock:
            self._failed_statuses.extend(_StatusStep(wamid_status, error) for _ in range(count))

    def heal(self) -> None:
        """Drop the failures still waiting for a send (`fail_next`, `fail_next_sends_...`)."""
        with self._lock:
            self._failures.clear()
            self._failed_statuses.clear()

    def set_latency(self, seconds: float) -> None:
        """Delay every Graph API answer by `seconds`."""
        with self._lock:
            self._latency = seconds

    def set_subscribed(self, subscribed: bool) -> None:
        """Whether the app is subscribed to the WABA's webhooks (`subscribed_apps` lists it)."""
        with self._lock:
            self._subscribed = subscribed

    # -- recordings ------------------------------------------------------------------------

    def calls(self, path_contains: str | None = None) -> list[GraphCall]:
        """Graph API requests received, in order, optionally those whose path contains a string."""
        with self._lock:
            calls = list(self._calls)
        return [c for c in calls if path_contains is None or path_contains in c.path]

    def sent_messages(self) -> list[dict[str, Any]]:
        """Bodies of the accepted sends (mark-as-read excluded), in order."""
        with self._lock:
            return [copy.deepcopy(body) for _, body in self._sends]

    def sends(self) -> list[tuple[str, dict[str, Any]]]:
        """Accepted sends as (wamid given back, body), in order."""
        with self._lock:
            return copy.deepcopy(self._sends)

    def read_marks(self) -> list[str]:
        """Message ids marked read, in order."""
        with self._lock:
            return list(self._read_marks)

    def webhook_deliveries(self) -> list[tuple[dict[str, Any], int]]:
        """Every webhook POSTed to `webhook_url` with the HTTP status answered (0: no answer)."""
        with self._lock:
            return copy.deepcopy(self._deliveries)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> bool:
        """Poll `predicate` until true or `timeout` seconds pass."""
        return wait_for(predicate, timeout)

    def wait_idle(self, timeout: float = 10) -> bool:
        """Wait until no background work (webhook deliveries) is pending."""
        return wait_for(lambda: self._outbox is None or self._outbox.pending == 0, timeout)

    def reset(self) -> None:
        """Forget recordings and pending failures; templates, media and numbers stay."""
        with self._lock:
            self._calls.clear()
            self._sends.clear()
            self._read_marks.clear()
            self._deliveries.clear()
            self._failures.clear()
            self._failed_statuses.clear()
            self._latency = 0.0

    # -- webhooks towards the bridge -------------------------------------------------------

    def sign(self, body: bytes) -> str:
        """The `X-Hub-Signature-256` value Meta would send with `body`: signed by the app of
        the number it is about."""
        secret = self.app_secret
        try:
            entries = json.loads(body).get("entry") or []
            numbers = [
                change["value"]["metadata"]["phone_number_id"]
                for entry in entries
                for change in entry.get("changes") or []
                if "metadata" in change.get("value", {})
            ]
        except (ValueError, AttributeError, KeyError, TypeError):
            numbers = []
        with self._lock:
            for number in numbers:
                secret = self._number_secrets.get(number, secret)
        return sign_body(secret, body)

    def _display(self, phone_number_id: str | None) -> tuple[str, str]:
        number_id = phone_number_id or self.phone_number_id
        with self._lock:
            return number_id, self._phone_numbers.get(number_id, self.display_phone_number)

    def build_message_webhook(
        self,
        *,
        from_wa_id: str,
        name: str,
        message: Mapping[str, Any],
        timestamp: int | None = None,
        wamid: str | None = None,
        phone_number_id: str | None = None,
    ) -> dict[str, Any]:
        """An inbound webhook with one message of any type (`from`, `id`, `timestamp` filled in)."""
        return self.build_batch_webhook(
            [
                {
                    "from_wa_id": from_wa_id,
                    "name": name,
                    "message": message,
                    "timestamp": timestamp,
                    "wamid": wamid,
                }
            ],
            phone_number_id=phone_number_id,
        )

    def build_text_webhook(
        self,
        *,
        from_wa_id: str,
        name: str,
        text: str,
        timestamp: int | None = None,
        wamid: str | None = None,
        phone_number_id: str | None = None,
    ) -> dict[str, Any]:
        """An inbound `whatsapp_business_account` webhook carrying one text message."""
        return self.build_batch_webhook(
            [
                {
                    "from_wa_id": from_wa_id,
                    "name": name,
                    "text": text,
                    "timestamp": timestamp,
                    "wamid": wamid,
                }
            ],
            phone_number_id=phone_number_id,
        )

    def build_media_webhook(
        self,
        *,
        from_wa_id: str,
        name: str,
        media_id: str,
        kind: str = "image",
        mime_type: str | None = None,
        caption: str | None = None,
        filename: str | None = None,
        timestamp: int | None = None,
        wamid: str | None = None,
    ) -> dict[str, Any]:
        """An inbound media message; sha256 and MIME type come from `add_media` when registered."""
        stored = self.get_media(media_id)
        content, stored_mime = stored if stored is not None else (b"", "application/octet-stream")
        media: dict[str, Any] = {
            "mime_type": mime_type or stored_mime,
            "sha256": hashlib.sha256(content).hexdigest(),
            "id": media_id,
        }
        if caption is not None:
            media["caption"] = caption
        if filename is not None:
            media["filename"] = filename
        return self.build_message_webhook(
            from_wa_id=from_wa_id,
            name=name,
            message={"type": kind, kind: media},
            timestamp=timestamp,
            wamid=wamid,
        )

    def build_batch_webhook(
        self, messages: Sequence[Mapping[str, Any]], *, phone_number_id: str | None = None
    ) -> dict[str, Any]:
        """ONE webhook carrying several messages, possibly from several contacts, in order.

        Each item has `from_wa_id`, `name` and either `text` or `message` (a raw `messages[]`
        object), plus optional `timestamp` and `wamid`.
        """
        contacts: dict[str, str] = {}
        built: list[dict[str, Any]] = []
        for item in messages:
            wa_id, name = str(item["from_wa_id"]), str(item.get("name", ""))
            contacts.setdefault(wa_id, name)
            if "message" in item:
                message = copy.deepcopy(dict(item["message"]))
                message.setdefault("from", wa_id)
                message.setdefault("id", item.get("wamid") or new_wamid("IN"))
                ts = item.get("timestamp")
                message.setdefault("timestamp", str(int(time.time()) if ts is None else ts))
            else:
                message = text_message(
                    from_wa_id=wa_id,
                    text=str(item["text"]),
                    timestamp=item.get("timestamp"),
                    wamid=item.get("wamid"),
                )
            built.append(message)
        number_id, display = self._display(phone_number_id)
        return messages_webhook(
            waba_id=self.waba_id,
            display_phone_number=display,
            phone_number_id=number_id,
            contacts=list(contacts.items()),
            messages=built,
        )

    def build_status_webhook(
        self,
        *,
        wamid: str,
        status: str,
        recipient_id: str,
        timestamp: int | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        phone_number_id: str | None = None,
    ) -> dict[str, Any]:
        """A status webhook (sent, delivered, read, played, or failed with `errors`) of a send."""
        number_id, display = self._display(phone_number_id)
        obj = status_object(
            wamid=wamid,
            status=status,
            recipient_id=recipient_id,
            timestamp=timestamp,
            errors=errors,
        )
        return statuses_webhook(
            waba_id=self.waba_id,
            display_phone_number=display,
            phone_number_id=number_id,
            statuses=[obj],
        )

    def build_account_update_webhook(
        self, event: str, *, timestamp: int | None = None, **details: Any
    ) -> dict[str, Any]:
        """An ``account_update`` webhook: ``event`` (``ACCOUNT_VIOLATION``,
        ``ACCOUNT_RESTRICTION``, ``DISABLED_UPDATE``...) with its details as Meta nests them,
        e.g. ``violation_info={"violation_type": "SCAM"}``."""
        return account_change_webhook(
            waba_id=self.waba_id,
            field="account_update",
            value={"event": event, **details},
            time_=timestamp,
        )

    def build_phone_number_quality_webhook(
        self,
        event: str,
        *,
        current_limit: str | None = None,
        old_limit: str | None = None,
        phone_number_id: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A ``phone_number_quality_update`` webhook for a number (``FLAGGED``, ``UNFLAGGED``,
        ``DOWNGRADE``, ``UPGRADE``), with its messaging limits as tiers (``TIER_1K``)."""
        _, display = self._display(phone_number_id)
        value: dict[str, Any] = {"display_phone_number": display, "event": event}
        if current_limit is not None:
            value["current_limit"] = current_limit
        if old_limit is not None:
            value["old_limit"] = old_limit
        return account_change_webhook(
            waba_id=self.waba_id,
            field="phone_number_quality_update",
            value=value,
            time_=timestamp,
        )

    def _webhook_headers(self, body: bytes, signature: str | None, sign: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        elif sign:
            headers["X-Hub-Signature-256"] = self.sign(body)
        return headers

    def _record_delivery(self, body: bytes, status: int) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        with self._lock:
            self._deliveries.append((payload if isinstance(payload, dict) else {}, status))

    def post_webhook(
        self, payload: dict[str, Any] | bytes, *, signature: str | None = None, sign: bool = True
    ) -> httpx.Response:
        """POST a webhook to `webhook_url`, signed unless `sign` is false or `signature` given."""
        if self.webhook_url is None:
            raise RuntimeError("MetaSimulator.webhook_url is not set")
        body = payload if isinstance(payload, bytes) else _dumps(payload)
        response = self._sender.post(
            self.webhook_url, body, self._webhook_headers(body, signature, sign)
        )
        self._record_delivery(body, response.status_code)
        return response

    def _post_text(
        self, from_wa_id: str, name: str, text: str, timestamp: int | None
    ) -> tuple[str, httpx.Response]:
        payload = self.build_text_webhook(
            from_wa_id=from_wa_id, name=name, text=text, timestamp=timestamp
        )
        wamid: str = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        return wamid, self.post_webhook(payload)

    def send_text(self, from_wa_id: str, name: str, text: str, timestamp: int | None = None) -> str:
        """Deliver an inbound text message from a customer to the bridge; return its wamid."""
        return self._post_text(from_wa_id, name, text, timestamp)[0]

    async def _deliver_async(self, payload: dict[str, Any]) -> None:
        """POST a webhook from the event loop, retrying failures with backoff like Meta."""
        url, outbox = self.webhook_url, self._outbox
        if url is None or outbox is None:
            return
        body = _dumps(payload)
        delay = self.retry_backoff
        attempts = max(1, self.webhook_attempts)
        for attempt in range(1, attempts + 1):
            response = await outbox.post(url, body, self._webhook_headers(body, None, True))
            status = 0 if response is None else response.status_code
            self._record_delivery(body, status)
            if 200 <= status < 300 or attempt == attempts:
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def _deliver_statuses(
        self, wamid: str, recipient_id: str, phone_number_id: str, plan: list[_StatusStep]
    ) -> None:
        try:
            for step in plan:
                await asyncio.sleep(self.status_delay)
                errors = [step.error] if step.error else None
                payload = self.build_status_webhook(
                    wamid=wamid,
                    status=step.status,
                    recipient_id=recipient_id,
                    errors=errors,
                    phone_number_id=phone_number_id,
                )
                await self._deliver_async(payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: S110 - a simulator must outlive a broken receiver
            pass

    # -- Graph API -------------------------------------------------------------------------

    def _authorized(self, incoming: _Incoming) -> bool:
        # A number of another app answers only to that app's token.
        parts = incoming.path.strip("/").split("/")
        object_id = parts[1] if len(parts) > 1 else ""
        with self._lock:
            access_token = self._number_tokens.get(object_id, self.access_token)
        given = incoming.headers.get("authorization", "")
        expected = f"Bearer {access_token}"
        token = incoming.query.get("access_token")
        return hmac.compare_digest(given, expected) or (
            token is not None and hmac.compare_digest(token, access_token)
        )

    async def _serve(
        self,
        request: Request,
        version: str,
        handler: Callable[[_Incoming], Awaitable[Response]],
    ) -> Response:
        """Record, delay, authenticate and run one Graph API request."""
        body = await request.body()
        arrived = time.time()
        content_type = request.headers.get("content-type", "")
        parsed: Any = None
        if content_type.startswith("multipart/form-data"):
            parsed = {p.name: _summary(p) for p in parse_multipart(body, content_type)}
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body.decode("utf-8", errors="replace")
        incoming = _Incoming(
            method=request.method,
            path=request.url.path,
            version=version,
            body=body,
            json=parsed,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        with self._lock:
            latency = self._latency
        if latency:
            await asyncio.sleep(latency)
        try:
            if not self._authorized(incoming):
                raise GraphError(
                    190, "Invalid OAuth access token - Cannot parse access token", "", 401
                )
            response = await handler(incoming)
        except GraphError as err:
            response = JSONResponse(
                error_envelope(err.code, err.title, err.details), status_code=err.http_status
            )
        call = GraphCall(
            method=incoming.method,
            path=incoming.path,
            version=version,
            json=copy.deepcopy(parsed),
            headers=incoming.headers,
            at=arrived,
            query=incoming.query,
            status=response.status_code,
        )
        with self._lock:
            self._calls.append(call)
        return response

    def _unknown_object(self, method: str, object_id: str) -> GraphError:
        return GraphError(
            100, f"Unsupported {method.lower()} request", _UNKNOWN_OBJECT.format(id=object_id)
        )

    async def _send(self, incoming: _Incoming, phone_number_id: str) -> Response:
        with self._lock:
            known = phone_number_id in self._phone_numbers
        if not known:
            raise self._unknown_object("POST", phone_number_id)
        body = incoming.json
        if isinstance(body, dict) and body.get("status") == "read":
            return self._mark_read(body)
        with self._lock:
            injected = self._failures.popleft() if self._failures else None
        if injected is not None:
            raise injected
        kind = validate_send(body)
        assert isinstance(body, dict)  # validate_send guarantees it
        if kind == "template" and self.check_templates:
            check_template_send(self.templates(), body["template"])
        to: str = body["to"]
        wa_id = _wa_id(to)
        wamid = new_wamid()
        with self._lock:
            self._sends.append((wamid, copy.deepcopy(body)))
            failed = self._failed_statuses.popleft() if self._failed_statuses else None
        self._schedule_statuses(wamid, wa_id, phone_number_id, kind, failed)
        message: dict[str, Any] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [message],
            }
        )

    def _schedule_statuses(
        self,
        wamid: str,
        wa_id: str,
        phone_number_id: str,
        kind: str,
        failed: _StatusStep | None,
    ) -> None:
        if failed is not None:
            plan = [failed]
        else:
            # A reaction only ever produces a `sent` status; a voice note is played once read.
            statuses = [s for s in self.auto_statuses if kind != "reaction" or s == "sent"]
            if kind == "audio" and statuses and statuses[-1] == "read":
                statuses.append("played")
            plan = [_StatusStep(s, {}) for s in statuses]
        if plan and self.webhook_url is not None and self._outbox is not None:
            self._outbox.spawn(self._deliver_statuses(wamid, wa_id, phone_number_id, plan))

    def _mark_read(self, body: dict[str, Any]) -> Response:
        if body.get("messaging_product") != "whatsapp":
            raise GraphError(
                100, "Invalid parameter", "The parameter messaging_product must be 'whatsapp'."
            )
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise GraphError(100, "Invalid parameter", "The parameter message_id is required.")
        with self._lock:
            self._read_marks.append(message_id)
        return JSONResponse({"success": True})

    async def _upload(self, incoming: _Incoming, phone_number_id: str) -> Response:
        with self._lock:
            known = phone_number_id in self._phone_numbers
        if not known:
            raise self._unknown_object("POST", phone_number_id)
        content_type = incoming.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise GraphError(100, "Invalid parameter", "Upload must be multipart/form-data.")
        parts = {p.name: p for p in parse_multipart(incoming.body, content_type)}
        product = parts.get("messaging_product")
        if product is None or product.text != "whatsapp":
            raise GraphError(
                100, "Invalid parameter", "The parameter messaging_product is required."
            )
        file = parts.get("file")
        if file is None or file.filename is None:
            raise GraphError(100, "Invalid parameter", "The parameter file is required.")
        mime = parts["type"].text if "type" in parts else file.content_type
        media_id = str(4_000_000_000_000_000 + secrets.randbelow(10**15))
        self.add_media(media_id, file.data, mime or "application/octet-stream")
        return JSONResponse({"id": media_id})

    async def _get_object(self, request: Request, incoming: _Incoming, object_id: str) -> Response:
        with self._lock:
            media = self._media.get(object_id)
            display = self._phone_numbers.get(object_id)
        if media is not None:
            return JSONResponse(media.info(object_id, str(request.base_url).rstrip("/")))
        if display is not None:
            return JSONResponse(
                {
                    "verified_name": "Sandbox Business",
                    "display_phone_number": display,
                    "id": object_id,
                    "quality_rating": "GREEN",
                    "code_verification_status": "VERIFIED",
                    "platform_type": "CLOUD_API",
                    "throughput": {"level": "STANDARD"},
                }
            )
        if object_id == self.waba_id:
            return JSONResponse(
                {"id": object_id, "name": "Sandbox WABA", "currency": "USD", "timezone_id": "1"}
            )
        if object_id == "me":
            return JSONResponse({"id": "3000000003", "name": "Sandbox System User"})
        raise self._unknown_object("GET", object_id)

    async def _get_edge(
        self, request: Request, incoming: _Incoming, object_id: str, edge: str
    ) -> Response:
        if object_id != self.waba_id:
            raise self._unknown_object("GET", object_id)
        if edge == "message_templates":
            self_url = str(request.url.replace(query=None))
            return JSONResponse(page_templates(self.templates(), incoming.query, self_url))
        if edge == "phone_numbers":
            with self._lock:
                numbers = dict(self._phone_numbers)
            data = [
                {"id": pid, "display_phone_number": disp, "verified_name": "Sandbox Business"}
                for pid, disp in numbers.items()
            ]
            return JSONResponse({"data": data})
        if edge == "subscribed_apps":
            with self._lock:
                subscribed = self._subscribed
            app = {"whatsapp_business_api_data": {"id": "4000000004", "name": "wabridge"}}
            return JSONResponse({"data": [app] if subscribed else []})
        raise GraphError(100, "Unknown path components", f"/{edge}")

    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            outbox = Outbox()
            self._outbox = outbox
            try:
                yield
            finally:
                self._outbox = None
                await outbox.aclose()

        app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
        forgive_disconnects(app)

        @app.get("/_sim/calls")
        async def sim_calls() -> JSONResponse:
            return JSONResponse([asdict(c) for c in self.calls()])

        @app.get("/_sim/sent")
        async def sim_sent() -> JSONResponse:
            return JSONResponse(self.sent_messages())

        @app.post("/_sim/inbound/text")
        async def sim_inbound_text(request: Request) -> JSONResponse:
            args = await request.json()
            wamid, response = await asyncio.to_thread(
                self._post_text,
                str(args["from_wa_id"]),
                str(args.get("name", "")),
                str(args["text"]),
                args.get("timestamp"),
            )
            return JSONResponse({"wamid": wamid, "status": response.status_code})

        @app.get("/media-download/{media_id}")
        async def download(request: Request, media_id: str) -> Response:
            async def handler(_: _Incoming) -> Response:
                with self._lock:
                    media = self._media.get(media_id)
                if media is None:
                    return Response(status_code=404)
                return Response(media.content, media_type=media.mime_type)

            return await self._serve(request, "", handler)

        @app.post("/{version}/{phone_number_id}/messages")
        async def send(request: Request, version: str, phone_number_id: str) -> Response:
            return await self._serve(request, version, lambda i: self._send(i, phone_number_id))

        @app.post("/{version}/{phone_number_id}/media")
        async def upload(request: Request, version: str, phone_number_id: str) -> Response:
            return await self._serve(request, version, lambda i: self._upload(i, phone_number_id))

        @app.get("/{version}/{object_id}")
        async def get_object(request: Request, version: str, object_id: str) -> Response:
            return await self._serve(
                request, version, lambda i: self._get_object(request, i, object_id)
            )

        @app.delete("/{version}/{media_id}")
        async def delete_media(request: Request, version: str, media_id: str) -> Response:
            async def handler(_: _Incoming) -> Response:
                with self._lock:
                    found = self._media.pop(media_id, None)
                if found is None:
                    raise self._unknown_object("DELETE", media_id)
                return JSONResponse({"success": True})

            return await self._serve(request, version, handler)

        @app.get("/{version}/{object_id}/{edge}")
        async def get_edge(request: Request, version: str, object_id: str, edge: str) -> Response:
            return await self._serve(
                request, version, lambda i: self._get_edge(request, i, object_id, edge)
            )

        @app.api_route("/{rest:path}", methods=["GET", "POST", "DELETE", "PUT"])
        async def unknown(request: Request, rest: str) -> Response:
            async def handler(_: _Incoming) -> Response:
                raise GraphError(100, "Unknown path components", f"/{rest}")

            return await self._serve(request, rest.split("/", 1)[0], handler)

        return app
