"""The words of ``/wa`` and of the message shortcut: every answer is for the agent alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bridge.domain import MessageTemplate, Placeholder, ValueProblem
from bridge.ports import FailureCount
from bridge.usecases.status import StatusReport
from bridge.usecases.templates import SendOutcome, SendResult
from slack_app.messages.conversations import escape

__all__ = [
    "HELP_TEXT",
    "NO_TEMPLATES_CONFIGURED",
    "bad_phone",
    "no_such_language",
    "no_templates",
    "status_text",
    "template_list",
    "template_result",
    "unknown_subcommand",
    "usage",
]

#: Templates listed at most in one answer (Slack caps a message's length).
LIST_LIMIT = 40

HELP_TEXT = (
    "*wabridge* keeps each WhatsApp conversation in a thread of this channel.\n"
    "• *Reply in a thread* to answer the customer (inside the 24-hour window). "
    "Start a reply with the note prefix to keep it internal.\n"
    "• `/wa templates [filter]`: the approved templates, by language.\n"
    "• `/wa template <phone> <name> [language] [value | value …]`: send an approved "
    "template (outside the window too); values fill its variables in order, separated by `|`.\n"
    "• `/wa new <phone> <name> [language] [value | value …]`: start a conversation with a "
    "template; it opens the contact's thread.\n"
    "• `/wa status`: numbers, queues, failures and windows.\n"
    "• `/wa help`: this help."
)

NO_TEMPLATES_CONFIGURED = (
    "Templates are not set up here: `META_WABA_ID` is not configured. Ask an admin."
)


def unknown_subcommand(word: str) -> str:
    return f"`/wa {escape(word)}` is not a command. Try `/wa help`."


def usage(subcommand: str) -> str:
    return (
        f"Usage: `/wa {subcommand} <phone> <name> [language] [value | value …]`, "
        "e.g. `/wa " + subcommand + " +49 151 12345678 order_update en Ada | #1042`"
    )


def bad_phone(reason: str) -> str:
    return f":warning: {escape(reason)}."


def no_templates(filter_text: str) -> str:
    if filter_text:
        return f"No approved template matches “{escape(filter_text)}”."
    return (
        "No approved templates yet. An admin can fetch them with `wabridge templates sync`; "
        "new ones appear once Meta approves them."
    )


def _label(p: Placeholder) -> str:
    name = "media link" if p.is_media else "{{" + p.name + "}}"
    where = {"header": "header ", "body": "", "button": "button "}[p.part.value]
    example = f" (e.g. {escape(p.example)})" if p.example else ""
    return f"{where}{name}{example}"


def template_list(templates: Sequence[MessageTemplate], filter_text: str) -> str:
    """Approved templates grouped by language, each with its body text."""
    lines = [f"*Approved templates*{f' matching “{escape(filter_text)}”' if filter_text else ''}:"]
    language = None
    for template in templates[:LIST_LIMIT]:
        if template.language != language:
            language = template.language
            lines.append(f"\n*{escape(language)}*")
        needs = f" — {len(template.placeholders)} value(s)" if template.placeholders else ""
        lines.append(
            f"• `{escape(template.name)}` ({template.category.lower()}){needs}\n"
            f"> {escape(template.body_text).replace(chr(10), chr(10) + '> ')}"
        )
    if len(templates) > LIST_LIMIT:
        lines.append(
            f"\n…and {len(templates) - LIST_LIMIT} more: narrow it with `/wa templates <filter>`."
        )
    return "\n".join(lines)


_PROBLEM_WORDS = {
    ValueProblem.MISSING: "is empty",
    ValueProblem.NOT_HTTPS: "must be an https:// link",
    ValueProblem.TOO_LONG: "is longer than WhatsApp's 1,024 characters",
}


def template_result(result: SendResult, *, name: str, phone: str) -> str:
    """What the agent is told after ``/wa template`` or ``/wa new``."""
    shown_name = f"`{escape(name)}`"
    if result.outcome == SendOutcome.UNKNOWN_TEMPLATE:
        return f":warning: No template named {shown_name}. `/wa templates` lists the approved ones."
    if result.outcome == SendOutcome.NOT_USABLE:
        states = ", ".join(
            f"{escape(t.language)}: {t.status.lower() or 'unknown'}" for t in result.candidates
        )
        return (
            f":warning: {shown_name} cannot be sent: it is not approved ({states}). "
            "`/wa templates` lists the approved ones."
        )
    if result.outcome == SendOutcome.WHICH_LANGUAGE:
        languages = ", ".join(f"`{escape(t.language)}`" for t in result.candidates)
        return (
            f":warning: {shown_name} exists in {languages}: say which, "
            f"e.g. `/wa template {escape(phone)} {escape(name)} "
            f"{escape(result.candidates[0].language)} …`"
        )
    template = result.template
    if result.outcome == SendOutcome.WRONG_VALUES and template is not None:
        if result.given is not None:
            wanted = " | ".join(_label(p) for p in template.placeholders) or "no values"
            return (
                f":warning: {shown_name} needs {len(template.placeholders)} value(s), "
                f"separated by `|`: {wanted}. You gave {result.given}. Nothing was sent."
            )
        problems = "; ".join(
            f"{_label(p)} {_PROBLEM_WORDS[result.problems[p.key]]}"
            for p in template.placeholders
            if p.key in result.problems
        )
        return f":warning: {shown_name}: {problems}. Nothing was sent."
    return (
        f":outbox_tray: Sending {shown_name} to +{escape(phone)}. It shows in the contact's "
        "thread, with its delivery."
    )


def no_such_language(name: str, language: str, languages: Sequence[str]) -> str:
    """``/wa template`` named a language the template has no version in."""
    shown = ", ".join(f"`{escape(code)}`" for code in languages)
    return (
        f":warning: `{escape(name)}` has no `{escape(language)}` version; it exists in "
        f"{shown}. Nothing was sent."
    )


def _ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "none received yet"
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _counts(counts: Sequence[FailureCount]) -> str:
    """The five commonest kinds and reasons, most first."""
    return ", ".join(
        f"{f.count}× {escape(f.kind)} ({escape(f.reason)})"
        for f in sorted(counts, key=lambda f: -f.count)[:5]
    )


def status_text(report: StatusReport) -> str:
    """``/wa status``, for a busy agent or admin."""
    numbers = "\n".join(
        f"• {'+' + display if display else 'number'} (id {pnid}) → <#{channel}>"
        for pnid, display, channel in report.numbers
    )
    failed = sum(f.count for f in report.failures)
    reasons = _counts(report.failures)
    jobs = report.jobs
    retrying = _counts(report.retrying)
    lines = [
        "*wabridge status*",
        f"*Business numbers*\n{numbers}",
        (
            f"*Queues*: {report.inbox_pending} webhook(s) to process; {jobs.due} job(s) due, "
            f"{jobs.running} running, {jobs.waiting} waiting"
            + (f"; retrying: {retrying}" if retrying else "")
        ),
        (
            f"*Failed*: {failed}"
            + (f" ({reasons}); see `wabridge deadletters list`" if failed else "")
        ),
        f"*Last webhook*: {_ago(report.last_webhook_at, report.now)}",
        (f"*Windows*: {report.open_windows} open, {report.closing_soon} closing within the hour"),
        f"*Replies refused today* (window closed): {report.refused_today}",
    ]
    for pause in report.paused:
        lines.append(
            f":double_vertical_bar: *{pause.lane.value.capitalize()} work is paused*: "
            f"{escape(pause.reason)} (since {pause.since:%H:%M} UTC). It resumes by itself "
            "once the credentials work again."
        )
    return "\n".join(lines)
