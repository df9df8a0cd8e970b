"""``/wa``: every answer is ephemeral, and acked before any work."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Final

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bridge.domain.contacts import normalize_phone
from bridge.domain.templates import is_language_code
from bridge.errors import DeliveryError
from bridge.usecases.templates import LookupOutcome, Templates
from slack_app.ids import COMMAND
from slack_app.listeners import ListenerDeps
from slack_app.messages import commands as words

__all__ = ["TemplateCommand", "parse_template_command", "register"]

log = logging.getLogger(__name__)

_PHONE_TOKEN: Final = re.compile(r"^[+\d()./-]+$")
_LANGUAGE: Final = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")


@dataclass(frozen=True, slots=True)
class TemplateCommand:
    phone: str  # as typed
    name: str
    #: What follows the name: maybe a language, then the values separated by ``|``.
    rest: str


def parse_template_command(text: str) -> TemplateCommand | None:
    """``<phone> <name> [language] [value | value …]``; the phone may contain spaces, as
    agents paste numbers (``+49 151 12345678``). None when there is no name after it."""
    tokens = list(re.finditer(r"\S+", text))
    phone: list[str] = []
    while tokens and _PHONE_TOKEN.match(tokens[0].group()) and re.search(r"\d", tokens[0].group()):
        phone.append(tokens.pop(0).group())
    if not phone or not tokens:
        return None
    name = tokens[0]
    # What follows the name, as typed (values may hold several spaces on purpose).
    return TemplateCommand(
        phone=" ".join(phone), name=name.group(), rest=text[name.end() :].strip()
    )


@dataclass(frozen=True, slots=True)
class _Arguments:
    """What follows a template's name, read."""

    language: str | None
    values: list[str]
    #: A language the template has no version in, with the languages it has.
    missing: tuple[str, tuple[str, ...]] | None = None


def _values(rest: str) -> list[str]:
    return [v.strip() for v in rest.split("|")] if rest else []


async def _language_and_values(
    templates: Templates, name: str, rest: str, *, waba_id: str
) -> _Arguments:
    """The language, if the first word after the name is one (a language the template
    exists in, or any template language: then the agent is told which it has, rather than
    that it got one value too many), and the values in order."""
    first, _, after = rest.partition(" ")
    if not (first and "|" not in first and _LANGUAGE.match(first)):
        return _Arguments(None, _values(rest))
    if (await templates.find(name, first, waba_id=waba_id)).outcome != LookupOutcome.UNKNOWN:
        return _Arguments(first, _values(after.strip()))
    if not is_language_code(first):
        return _Arguments(None, _values(rest))
    named = await templates.find(name, waba_id=waba_id)
    versions = ((named.template,) if named.template is not None else ()) + named.candidates
    if not versions:  # no such template at all: the send says so
        return _Arguments(first, _values(after.strip()))
    languages = tuple(sorted(t.language for t in versions))
    return _Arguments(None, [], missing=(first, languages))


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    async def send_template(
        respond: AsyncRespond, command: dict[str, Any], text: str, subcommand: str
    ) -> None:
        if deps.templates is None or deps.template_messages is None:
            await respond(text=words.NO_TEMPLATES_CONFIGURED, response_type="ephemeral")
            return
        parsed = parse_template_command(text)
        if parsed is None:
            await respond(text=words.usage(subcommand), response_type="ephemeral")
            return
        try:
            to = normalize_phone(parsed.phone)
        except ValueError as error:
            await respond(text=words.bad_phone(str(error)), response_type="ephemeral")
            return
        # The templates of the account of the number this channel's conversations are on.
        waba_id = await deps.templates.account(channel=command.get("channel_id"))
        arguments = await _language_and_values(
            deps.templates, parsed.name, parsed.rest, waba_id=waba_id
        )
        if arguments.missing is not None:
            language, languages = arguments.missing
            answer = words.no_such_language(parsed.name, language, languages)
            await respond(text=answer, response_type="ephemeral")
            return
        try:
            result = await deps.template_messages.send(
                to=to,
                name=parsed.name,
                language=arguments.language,
                author=command.get("user_id"),
                params=arguments.values,
                channel=command.get("channel_id"),
            )
        except DeliveryError as error:  # the business number could not be looked up
            log.warning("template not queued", extra={"reason": error.reason})
            await respond(text=words.bad_phone(str(error)), response_type="ephemeral")
            return
        await respond(
            text=words.template_result(result, name=parsed.name, phone=to),
            response_type="ephemeral",
        )

    @app.command(COMMAND)
    @deps.activity.track
    async def on_wa(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        text = str(command.get("text") or "").strip()
        typed, _, rest = text.partition(" ")
        subcommand = typed.lower()  # phones capitalise the first word
        rest = rest.strip()
        if subcommand in ("", "help"):
            await respond(text=words.HELP_TEXT, response_type="ephemeral")
        elif subcommand == "templates":
            if deps.templates is None:
                await respond(text=words.NO_TEMPLATES_CONFIGURED, response_type="ephemeral")
                return
            waba_id = await deps.templates.account(channel=command.get("channel_id"))
            found = await deps.templates.usable(rest, waba_id=waba_id)
            answer = words.template_list(found, rest) if found else words.no_templates(rest)
            await respond(text=answer, response_type="ephemeral")
        elif subcommand in ("template", "new"):
            await send_template(respond, command, rest, subcommand)
        elif subcommand == "status":
            report = await deps.status.report()
            await respond(text=words.status_text(report), response_type="ephemeral")
        else:
            await respond(text=words.unknown_subcommand(typed), response_type="ephemeral")
