"""Steps the end-to-end tests share: a customer opens a thread, what a thread and WhatsApp show."""

from __future__ import annotations

import subprocess
import sys

from sandbox.harness import CHANNEL, Sandbox

ADA = ("4915112345678", "Ada")


def thread_texts(box: Sandbox, thread_ts: str) -> list[str]:
    return [m.text for m in box.slack.thread(CHANNEL, thread_ts)]


def open_thread(box: Sandbox, text: str = "Hello") -> str:
    """Ada writes; returns her new thread once her message shows in it."""
    box.meta.send_text(*ADA, text)
    assert box.slack.wait_for(lambda: len(box.slack.top_level(CHANNEL)) == 1)
    thread_ts = box.slack.top_level(CHANNEL)[0].ts
    assert box.slack.wait_for(lambda: text in thread_texts(box, thread_ts))
    return thread_ts


def sent_texts(box: Sandbox) -> list[str]:
    """The text bodies WhatsApp was asked to send, in order."""
    return [m["text"]["body"] for m in box.meta.sent_messages()]


def sync_templates(box: Sandbox) -> None:
    """``wabridge templates sync``, as an admin runs it (serve also syncs at start)."""
    done = subprocess.run(
        [sys.executable, "-m", "wabridge", "templates", "sync"],
        env=box.env(),
        cwd=box.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
