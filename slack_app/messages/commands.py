"""The words of ``/wa`` and of the message shortcut."""

from __future__ import annotations

__all__ = ["HELP_TEXT", "SHORTCUT_NOT_YET", "unknown_subcommand"]

HELP_TEXT = (
    "*wabridge* keeps each WhatsApp conversation in a thread of this channel.\n"
    "• Reply in a thread to answer the customer (inside the 24-hour window).\n"
    "• Start a reply with the note prefix to keep it internal.\n"
    "• `/wa help`: this help."
)

SHORTCUT_NOT_YET = (
    "Sending templates from Slack is not available in this version yet. "
    "Replies in the thread still reach the customer while the 24-hour window is open."
)


def unknown_subcommand(word: str) -> str:
    return f"`/wa {word}` is not available yet. Try `/wa help`."
