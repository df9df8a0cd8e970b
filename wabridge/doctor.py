"""``wabridge doctor``: the configuration checked against the live APIs, one line per check.

Each check turns every failure (a refusal, a timeout, an answer that is not what the API
sends) into a ✗ with its fix, and no failing check stops another. A check that can say
nothing because the one it depends on failed (every Meta call needs a working token) is
skipped, as is the webhook handshake without a public URL; a skip is not a failure.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bridge.domain import FailureKind
from bridge.ports import BusinessNumber
from slack_app.scopes import BOT_SCOPES
from storage.db import create_engine, is_sqlite, schema_is_current
from storage.uow import SqlUnitOfWorkFactory
from wabridge.settings import Settings
from whatsapp.client import WhatsAppClient
from whatsapp.errors import MetaAPIError, MetaTransportError, is_unknown_object

__all__ = ["TIMEOUT", "Check", "main", "render", "run_checks"]

#: How long any one call may take: a doctor that hangs is worse than one that says "no answer".
TIMEOUT: Final = 10.0

META_TOKEN, META_PHONE = "Meta token", "Meta phone number"
META_TEMPLATES, META_WEBHOOKS = "Meta templates", "Meta webhooks"
SLACK_TOKEN, SLACK_SCOPES, SLACK_CHANNEL = "Slack token", "Slack scopes", "Slack channel"
SLACK_SOCKET, DATABASE, HANDSHAKE = "Slack Socket Mode", "Database", "Webhook handshake"

_MARKS: Final = {True: "✓", False: "✗", None: "-"}
_WEBHOOK_PATH: Final = "/webhooks/whatsapp"
_NO_WABA: Final = "META_WABA_ID is not set"
_SET_WABA: Final = (
    "set META_WABA_ID (the WhatsApp Business Account id, on the app's WhatsApp > API Setup page)"
)
_BAD_SLACK_TOKEN: Final = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type"})
_GONE_SLACK_TOKEN: Final = frozenset({"token_revoked", "token_expired", "account_inactive"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One line of the report: ``ok`` is None for a check that was skipped."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None


def _passed(name: str, detail: str) -> Check:
    return Check(name=name, ok=True, detail=detail)


def _failed(name: str, detail: str, fix: str) -> Check:
    return Check(name=name, ok=False, detail=detail, fix=fix)


def _skipped(name: str, detail: str) -> Check:
    return Check(name=name, ok=None, detail=detail)


def _unexpected(name: str, error: Exception) -> Check:
    return _failed(
        name,
        f"unexpected error: {type(error).__name__}: {error}",
        "report this line to the wabridge maintainers",
    )


async def _guarded(name: str, check: Awaitable[Check]) -> Check:
    """The check's result; an error nobody foresaw still becomes one ✗ line, not a traceback."""
    try:
        return await check
    except Exception as error:
        return _unexpected(name, error)


async def _guarded_all(name: str, checks: Awaitable[list[Check]]) -> list[Check]:
    try:
        return await checks
    except Exception as error:
        return [_unexpected(name, error)]


# --- Meta -------------------------------------------------------------------------------------


def _meta_reason(error: MetaAPIError | MetaTransportError, settings: Settings) -> str:
    if isinstance(error, MetaTransportError):
        return f"no answer from {settings.meta_api_base} ({error.details or error.title})"
    where = f"code {error.code}" if error.code is not None else f"HTTP {error.http_status}"
    return f"{error.title} ({where})"


def _meta_failure(
    name: str, error: MetaAPIError | MetaTransportError, settings: Settings, fix: str
) -> Check:
    """A Meta refusal, with the fix every check shares for the network and the token."""
    reason = _meta_reason(error, settings)
    if isinstance(error, MetaTransportError):
        return _failed(name, reason, "check META_API_BASE and that this host can reach it")
    if error.kind in (FailureKind.TRANSIENT, FailureKind.THROTTLED):
        return _failed(name, reason, "Meta is having trouble or throttling: run doctor later")
    if error.code is None and error.kind is not FailureKind.AUTH:
        # No Graph API error envelope: whatever answered is not the Graph API.
        return _failed(name, reason, "check META_API_BASE (normally https://graph.facebook.com)")
    return _failed(name, reason, fix)


async def _meta_token(client: WhatsAppClient, settings: Settings) -> Check:
    try:
        me = await client.get_object("me")
    except (MetaAPIError, MetaTransportError) as error:
        fix = (
            "create a new system-user token (Business Settings > System users > Generate "
            "token, with whatsapp_business_messaging and whatsapp_business_management) and "
            "set META_ACCESS_TOKEN"
        )
        return _meta_failure(META_TOKEN, error, settings, fix)
    name = me.get("name")
    return _passed(META_TOKEN, f"valid (system user {name})" if name else "valid")


async def _meta_phone(client: WhatsAppClient, settings: Settings) -> Check:
    number_id = settings.meta_phone_number_id
    try:
        digits = await client.display_number(number_id)
    except (MetaAPIError, MetaTransportError) as error:
        if is_unknown_object(error):
            return _failed(
                META_PHONE,
                f"META_PHONE_NUMBER_ID {number_id} is unknown to Meta or not visible with this "
                "token",
                "copy the Phone number ID from the app's WhatsApp > API Setup page into "
                "META_PHONE_NUMBER_ID; the system user needs access to its business account",
            )
        fix = "give the system user whatsapp_business_messaging on this number's account"
        return _meta_failure(META_PHONE, error, settings, fix)
    return _passed(META_PHONE, f"+{digits} (id {number_id})")


def _waba_failure(name: str, error: MetaAPIError | MetaTransportError, settings: Settings) -> Check:
    if is_unknown_object(error):
        return _failed(
            name,
            f"META_WABA_ID {settings.meta_waba_id} is unknown to Meta or not visible with this "
            "token",
            "check META_WABA_ID; the system user needs access to that business account",
        )
    fix = "give the system user whatsapp_business_management on the business account"
    return _meta_failure(name, error, settings, fix)


async def _meta_templates(client: WhatsAppClient, settings: Settings) -> Check:
    if not settings.meta_waba_id:
        return _failed(META_TEMPLATES, _NO_WABA, _SET_WABA)
    try:
        templates = await client.list_templates(settings.meta_waba_id)
    except (MetaAPIError, MetaTransportError) as error:
        return _waba_failure(META_TEMPLATES, error, settings)
    if not templates:
        return _passed(
            META_TEMPLATES,
            "readable, but there are none: create one in WhatsApp Manager to write to "
            "customers after 24 hours",
        )
    approved = sum(1 for t in templates if t.get("status") == "APPROVED")
    return _passed(META_TEMPLATES, f"{len(templates)} readable, {approved} approved")


def _app_name(entry: object) -> str | None:
    data = entry.get("whatsapp_business_api_data") if isinstance(entry, dict) else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


async def _meta_subscription(client: WhatsAppClient, settings: Settings) -> Check:
    waba_id = settings.meta_waba_id
    if not waba_id:
        return _failed(META_WEBHOOKS, _NO_WABA, _SET_WABA)
    try:
        body = await client.get_object(f"{waba_id}/subscribed_apps")
    except (MetaAPIError, MetaTransportError) as error:
        return _waba_failure(META_WEBHOOKS, error, settings)
    apps = body.get("data")
    if not isinstance(apps, list) or not apps:
        return _failed(
            META_WEBHOOKS,
            "no app is subscribed to the business account's webhooks: Meta sends no messages",
            f"subscribe the app: POST /{settings.meta_api_version}/{waba_id}/subscribed_apps "
            "with the system-user token",
        )
    names = [name for name in map(_app_name, apps) if name]
    return _passed(
        META_WEBHOOKS, f"subscribed: {', '.join(names)}" if names else "an app is subscribed"
    )


def _meta_client(
    settings: Settings,
    call_timeout: float,
    token_for: Callable[[str], Awaitable[str | None]] | None = None,
) -> WhatsAppClient:
    # One try: a doctor reports what it sees instead of retrying it away.
    return WhatsAppClient(
        base_url=settings.meta_api_base,
        version=settings.meta_api_version,
        access_token=settings.meta_access_token.get_secret_value(),
        timeout=call_timeout,
        max_attempts=1,
        token_for=token_for,
    )


async def _meta_checks(settings: Settings, call_timeout: float) -> list[Check]:
    async with _meta_client(settings, call_timeout) as client:
        token = await _guarded(META_TOKEN, _meta_token(client, settings))
        if not token.ok:
            # Every other call would fail the same way: one ✗ with its fix says it all.
            after = "not checked: the Meta token does not work"
            return [
                token,
                *(_skipped(n, after) for n in (META_PHONE, META_TEMPLATES, META_WEBHOOKS)),
            ]
        return [
            token,
            await _guarded(META_PHONE, _meta_phone(client, settings)),
            await _guarded(META_TEMPLATES, _meta_templates(client, settings)),
            await _guarded(META_WEBHOOKS, _meta_subscription(client, settings)),
        ]


# --- Slack ------------------------------------------------------------------------------------


def _slack_client(
    settings: Settings, call_timeout: float, token: str | None = None
) -> AsyncWebClient:
    # No retry handlers: one try per call, so an unreachable Slack costs one timeout.
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url_normalized,
        timeout=math.ceil(call_timeout),
        retry_handlers=[],
    )


def _slack_answer(error: Exception) -> dict[str, Any]:
    """The JSON Slack answered a failed call with; empty for any other failure."""
    response = error.response if isinstance(error, SlackApiError) else None
    data = response.data if response is not None else None
    return data if isinstance(data, dict) else {}


def _slack_error(error: Exception) -> str | None:
    """Slack's own error string (``invalid_auth``, ``not_in_channel``…), else None."""
    found = _slack_answer(error).get("error")
    return found if isinstance(found, str) and found else None


def _slack_reason(error: Exception, settings: Settings) -> str:
    found = _slack_error(error)
    if found is not None:
        return f"Slack refused: {found}"
    if isinstance(error, SlackApiError):
        status = error.response.status_code if error.response is not None else "?"
        return f"HTTP {status} from {settings.slack_api_url_normalized}, not a Slack API answer"
    if isinstance(error, TimeoutError):
        return f"no answer from {settings.slack_api_url_normalized} in time"
    return f"no answer from {settings.slack_api_url_normalized} ({type(error).__name__}: {error})"


_SLACK_ERRORS: Final = (SlackClientError, aiohttp.ClientError, TimeoutError, OSError)
_CHECK_SLACK_URL: Final = "check SLACK_API_URL and that this host can reach it"


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def _scopes(headers: Mapping[str, Any]) -> Check:
    granted_header = _header(headers, "X-OAuth-Scopes")
    if granted_header is None:
        return _skipped(SLACK_SCOPES, "not checked: Slack did not say which scopes the token has")
    granted = {scope.strip() for scope in granted_header.split(",") if scope.strip()}
    missing = sorted(BOT_SCOPES - granted)
    if missing:
        them = "it" if len(missing) == 1 else "them"
        return _failed(
            SLACK_SCOPES,
            f"missing {', '.join(missing)}",
            f"add {them} under OAuth & Permissions > Bot Token Scopes (slack-manifest.yml "
            "lists them all), then reinstall the app",
        )
    return _passed(SLACK_SCOPES, f"all {len(BOT_SCOPES)} the bridge needs are granted")


async def _slack_channel(client: AsyncWebClient, settings: Settings, bot: str) -> Check:
    # conversations.history, not conversations.info: it needs only the history scopes the
    # manifest grants (info wants channels:read and groups:read), and answers not_in_channel
    # or channel_not_found exactly when the bridge could not hear the channel.
    channel = settings.slack_channel_id
    invite = f"invite the bot: /invite @{bot} in the channel"
    try:
        await client.conversations_history(channel=channel, limit=1)
    except _SLACK_ERRORS as error:
        found = _slack_error(error)
        if found == "not_in_channel":
            return _failed(SLACK_CHANNEL, f"the bot is not in {channel}", invite)
        if found == "channel_not_found":
            return _failed(
                SLACK_CHANNEL,
                f"{channel} not found: no such channel, or a private one the bot is not in",
                f"{invite}, or check SLACK_CHANNEL_ID",
            )
        if found == "missing_scope":
            needed = _slack_answer(error).get("needed") or "channels:history, groups:history"
            return _failed(
                SLACK_CHANNEL,
                f"the token may not read {channel}: missing_scope",
                f"grant {needed} under OAuth & Permissions, then reinstall the app",
            )
        fix = "check SLACK_CHANNEL_ID" if found else _CHECK_SLACK_URL
        return _failed(SLACK_CHANNEL, _slack_reason(error, settings), fix)
    return _passed(SLACK_CHANNEL, f"the bot is in {channel}")


async def _slack_socket_mode(settings: Settings, app_token: str, call_timeout: float) -> Check:
    # Asking for a WebSocket URL proves the token; the URL is dropped, never connected to.
    client = _slack_client(settings, call_timeout)
    try:
        await client.apps_connections_open(app_token=app_token)
    except _SLACK_ERRORS as error:
        found = _slack_error(error)
        if found in _BAD_SLACK_TOKEN or found in _GONE_SLACK_TOKEN:
            return _failed(
                SLACK_SOCKET,
                f"Slack refused SLACK_APP_TOKEN: {found}",
                "create an app-level token with connections:write (Basic Information > "
                "App-Level Tokens) and set SLACK_APP_TOKEN, or unset it to use HTTP mode",
            )
        fix = "enable Socket Mode in the app's settings" if found else _CHECK_SLACK_URL
        return _failed(SLACK_SOCKET, _slack_reason(error, settings), fix)
    return _passed(SLACK_SOCKET, "the app-level token can open connections")


async def _slack_checks(settings: Settings, call_timeout: float) -> list[Check]:
    client = _slack_client(settings, call_timeout, settings.slack_bot_token.get_secret_value())
    checks: list[Check] = []
    try:
        auth = await client.auth_test()
    except _SLACK_ERRORS as error:
        found = _slack_error(error)
        if found in _BAD_SLACK_TOKEN:
            fix = "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions"
            fix += " into SLACK_BOT_TOKEN"
        elif found in _GONE_SLACK_TOKEN:
            fix = "reinstall the app and put its new Bot User OAuth Token in SLACK_BOT_TOKEN"
        else:
            fix = "check SLACK_BOT_TOKEN" if found else _CHECK_SLACK_URL
        after = "not checked: the Slack token does not work"
        checks += [
            _failed(SLACK_TOKEN, _slack_reason(error, settings), fix),
            _skipped(SLACK_SCOPES, after),
            _skipped(SLACK_CHANNEL, after),
        ]
    else:
        bot = str(auth.get("user") or "wabridge")
        team = auth.get("team")
        checks += [
            _passed(SLACK_TOKEN, f"valid (bot @{bot}" + (f" in {team})" if team else ")")),
            _scopes(auth.headers),
            await _guarded(SLACK_CHANNEL, _slack_channel(client, settings, bot)),
        ]
    if settings.slack_app_token is not None:
        app_token = settings.slack_app_token.get_secret_value()
        checks.append(
            await _guarded(SLACK_SOCKET, _slack_socket_mode(settings, app_token, call_timeout))
        )
    return checks


# --- database ---------------------------------------------------------------------------------


def _where(database_url: str) -> str:
    """The database named without its credentials."""
    url = make_url(database_url)
    if is_sqlite(database_url):
        return f"SQLite {url.database or ':memory:'}"
    return f"PostgreSQL {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def _database_reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    orig = getattr(error, "orig", None)
    lines = str(orig or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _missing_sqlite_file(database_url: str) -> bool:
    database = make_url(database_url).database
    in_file = is_sqlite(database_url) and bool(database) and database != ":memory:"
    return in_file and not Path(str(database)).exists()


async def _database_check(settings: Settings, call_timeout: float) -> list[Check]:
    url, where = settings.database_url, _where(settings.database_url)
    if _missing_sqlite_file(url):
        # Connecting would create an empty file; a doctor changes nothing.
        return [
            _failed(
                DATABASE,
                f"{where} does not exist",
                "run `wabridge migrate` to create it, or check DATABASE_URL",
            )
        ]
    engine = create_engine(url)
    try:
        async with asyncio.timeout(call_timeout):
            current = await schema_is_current(engine)
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        return [
            _failed(
                DATABASE,
                f"cannot connect to {where}: {_database_reason(error)}",
                "check DATABASE_URL and that the database server is up and reachable",
            )
        ]
    finally:
        await engine.dispose()
    if not current:
        return [_failed(DATABASE, f"{where}: schema is not at head", "run `wabridge migrate`")]
    return [_passed(DATABASE, f"{where}, reachable, schema at head")]


# --- the numbers added with `wabridge numbers add` --------------------------------------------


async def _added_numbers(settings: Settings, call_timeout: float) -> list[BusinessNumber]:
    """The numbers added beyond the environment's ([] when the database cannot say: its own
    check tells why)."""
    if _missing_sqlite_file(settings.database_url):
        return []
    engine = create_engine(settings.database_url)
    try:
        async with asyncio.timeout(call_timeout):
            if not await schema_is_current(engine):
                return []
            async with SqlUnitOfWorkFactory(engine)() as uow:
                return await uow.numbers.added()
    except (SQLAlchemyError, OSError, TimeoutError):
        return []
    finally:
        await engine.dispose()


async def _number_check(
    slack: AsyncWebClient, meta: WhatsAppClient, number: BusinessNumber, settings: Settings
) -> Check:
    pnid, channel = number.phone_number_id, number.slack_channel
    name = f"Number {pnid}"
    try:
        await slack.conversations_history(channel=channel, limit=1)
    except _SLACK_ERRORS as error:
        found = _slack_error(error)
        if found in ("not_in_channel", "channel_not_found"):
            return _failed(
                name,
                f"its channel {channel} cannot be reached: {found} (its customers' messages "
                "wait until it can)",
                f"invite the bot: /invite in {channel}, or change the number's channel with "
                "`wabridge numbers add … --channel`",
            )
        return _failed(name, _slack_reason(error, settings), "check the number's channel")
    try:
        digits = await meta.display_number(pnid)
    except (MetaAPIError, MetaTransportError) as error:
        whose = "its own access token" if number.access_token else "META_ACCESS_TOKEN"
        fix = f"check {whose}: it must reach this number (`wabridge numbers add … --access-token`)"
        return _meta_failure(name, error, settings, fix)
    return _passed(name, f"+{digits}, its channel {channel} reachable")


async def _numbers_checks(settings: Settings, call_timeout: float) -> list[Check]:
    added = await _added_numbers(settings, call_timeout)
    if not added:
        return []
    slack = _slack_client(settings, call_timeout, settings.slack_bot_token.get_secret_value())
    tokens = {n.phone_number_id: n.access_token for n in added}

    async def token_for(pnid: str) -> str | None:
        return tokens.get(pnid)

    async with _meta_client(settings, call_timeout, token_for) as meta:
        return [
            await _guarded(f"Number {n.phone_number_id}", _number_check(slack, meta, n, settings))
            for n in added
        ]


# --- the public webhook -----------------------------------------------------------------------


def _webhook_url(public_url: str) -> str:
    base = public_url.rstrip("/")
    return base if base.endswith(_WEBHOOK_PATH) else base + _WEBHOOK_PATH


async def _handshake_check(
    settings: Settings, public_url: str | None, call_timeout: float
) -> Check:
    if public_url is None:
        return _skipped(
            HANDSHAKE,
            "not checked: run `wabridge doctor --public-url https://your.host` to check "
            "that Meta can reach the bridge",
        )
    url = _webhook_url(public_url)
    challenge = str(secrets.randbelow(10**9))
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": settings.meta_verify_token.get_secret_value(),
        "hub.challenge": challenge,
    }
    serving = f"check that wabridge serve is running and reachable at {public_url}"
    try:
        async with httpx.AsyncClient(timeout=call_timeout, follow_redirects=False) as http:
            response = await http.get(url, params=params)
    except httpx.TimeoutException:
        return _failed(HANDSHAKE, f"no answer from {url} in {call_timeout:g} s", serving)
    except (httpx.TransportError, httpx.InvalidURL) as error:
        return _failed(HANDSHAKE, f"cannot reach {url} ({type(error).__name__}: {error})", serving)
    status = response.status_code
    if status == 200 and response.text == challenge:
        note = "" if url.startswith("https://") else "; Meta itself only calls https:// URLs"
        return _passed(HANDSHAKE, f"{url} answered the challenge{note}")
    if status == 403:
        return _failed(
            HANDSHAKE,
            f"{url} refused the verify token",
            "META_VERIFY_TOKEN must be the same here, in the running bridge and in the Meta "
            "app's webhook settings",
        )
    if status == 200:
        return _failed(
            HANDSHAKE,
            f"{url} answered 200 without the challenge: not wabridge, or a proxy changes answers",
            f"point --public-url at the host that serves wabridge; {serving}",
        )
    if response.is_redirect:
        return _failed(
            HANDSHAKE,
            f"{url} answered {status}, a redirect to {response.headers.get('location', '?')}",
            "give the URL Meta should call directly (Meta wants the answer, not a redirect)",
        )
    return _failed(
        HANDSHAKE,
        f"{url} answered HTTP {status}",
        f"a proxy in front must pass {_WEBHOOK_PATH} through; {serving}",
    )


async def _handshake_checks(
    settings: Settings, public_url: str | None, call_timeout: float
) -> list[Check]:
    return [await _handshake_check(settings, public_url, call_timeout)]


# --- running and reporting --------------------------------------------------------------------


async def run_checks(
    settings: Settings, *, public_url: str | None, call_timeout: float = TIMEOUT
) -> list[Check]:
    """Every check, in report order; Meta, Slack, the database and the webhook run side by side."""
    groups = await asyncio.gather(
        _guarded_all("Meta", _meta_checks(settings, call_timeout)),
        _guarded_all("Slack", _slack_checks(settings, call_timeout)),
        _guarded_all(DATABASE, _database_check(settings, call_timeout)),
        _guarded_all(HANDSHAKE, _handshake_checks(settings, public_url, call_timeout)),
        _guarded_all("Added numbers", _numbers_checks(settings, call_timeout)),
    )
    return [check for checks in groups for check in checks]


def render(checks: Sequence[Check]) -> str:
    """One line per check (mark, name, what was seen, and the fix of a ✗), then a summary."""
    lines = []
    for check in checks:
        line = f"{_MARKS[check.ok]} {check.name}: {check.detail}"
        lines.append(f"{line} — {check.fix}" if check.fix else line)
    failed = sum(1 for c in checks if c.ok is False)
    passed = sum(1 for c in checks if c.ok is True)
    skipped = len(checks) - failed - passed
    counts = [f"{passed} passed"] + ([f"{skipped} skipped"] if skipped else [])
    if failed:
        lines.append(f"{failed} failed, {', '.join(counts)}: fix the ✗ lines above.")
    else:
        lines.append(f"No problems found: {', '.join(counts)}.")
    return "\n".join(lines)


def _scrub(text: str, secret_values: Iterable[str]) -> str:
    # The checks never put a secret in a line; this is the net under that promise.
    for secret in sorted(set(secret_values), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def main(settings: Settings, public_url: str | None) -> int:
    """Run the checks, print the report; 0 when nothing failed, else 1."""
    checks = asyncio.run(run_checks(settings, public_url=public_url))
    print(_scrub(render(checks), settings.secret_values()))
    return 1 if any(check.ok is False for check in checks) else 0
