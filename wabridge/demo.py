"""``wabridge demo``: the whole bridge, on SQLite, against the built-in simulators.

A scripted conversation is played through a real ``wabridge serve`` process; each
step is printed as it is observed on the Slack or WhatsApp side. Exit code 0 only
if every step was seen.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sandbox.harness import CHANNEL, Sandbox

__all__ = ["run_demo"]

#: Slack's date token, ``<!date^epoch^format|fallback>``.
_SLACK_DATE: Final = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")

STEP_TIMEOUT = 20.0

CUSTOMER = ("4915112345678", "Ada Lovelace")
LATE_CUSTOMER = ("447911123456", "Grace Hopper")
SOON_CUSTOMER = ("33612345678", "Marie Curie")


class DemoFailedError(Exception):
    pass


def _picture() -> bytes:
    """A small real PNG (a green square), so the file in Slack is a picture."""
    import struct
    import zlib

    width = height = 16
    raw = b"".join(b"\x00" + b"\x25\xd3\x66" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class _Script:
    def __init__(self, sandbox: Sandbox) -> None:
        self.box = sandbox
        self.started = time.monotonic()
        self.steps = 0

    def say(self, text: str) -> None:
        # Slack shows a date token in each reader's own time; a terminal shows its fallback.
        shown = _SLACK_DATE.sub(r"\1", text)
        print(f"  {shown}", flush=True)

    def step(self, title: str) -> None:
        self.steps += 1
        elapsed = time.monotonic() - self.started
        print(f"\n[{elapsed:5.1f}s] {self.steps}. {title}", flush=True)

    def expect(self, what: str, predicate: Callable[[], bool]) -> None:
        if not self.box.slack.wait_for(predicate, timeout=STEP_TIMEOUT):
            raise DemoFailedError(what)
        self.say(f"✓ {what}")


def _play(script: _Script) -> None:
    box, slack, meta = script.box, script.box.slack, script.box.meta

    script.step(f"{CUSTOMER[1]} (+{CUSTOMER[0]}) writes to the business on WhatsApp")
    text = "Hi! My order #1042 hasn't arrived yet. Can you check?"
    script.say(f'WhatsApp: "{text}"')
    meta.send_text(CUSTOMER[0], CUSTOMER[1], text)
    script.expect(
        "Slack: a new thread appears in the support channel",
        lambda: len(slack.top_level(CHANNEL)) == 1,
    )
    parent = slack.top_level(CHANNEL)[0]
    script.say(f"Slack parent: {parent.text}")
    script.expect(
        "Slack: the customer's message is posted in that thread",
        lambda: any(m.text == text for m in slack.thread(CHANNEL, parent.ts)),
    )

    script.step("An agent answers in the Slack thread")
    answer = "Sorry about that, Ada! It left our warehouse today; you'll have it tomorrow."
    script.say(f'Slack reply by agent: "{answer}"')
    reply = slack.agent_reply(channel=CHANNEL, thread_ts=parent.ts, text=answer)
    script.expect(
        "WhatsApp: the bridge sent the answer to the customer",
        lambda: any(
            m.get("text", {}).get("body") == answer and m.get("to", "").endswith(CUSTOMER[0])
            for m in meta.sent_messages()
        ),
    )
    script.expect(
        "WhatsApp: the customer's message was marked read", lambda: bool(meta.read_marks())
    )

    script.step("WhatsApp reports delivery: sent, delivered, read")
    wanted = {"heavy_check_mark", "mailbox_with_mail", "eyes"}
    script.expect(
        "Slack: the agent's reply shows ✔ sent, 📬 delivered and 👀 read",
        lambda: wanted <= set(slack.reactions(CHANNEL, reply.ts)),
    )

    script.step("Ada sends a photo of the delivery note")
    photo = _picture()
    meta.add_media("4400000000000001", photo, "image/png")
    meta.post_webhook(
        meta.build_media_webhook(
            from_wa_id=CUSTOMER[0],
            name=CUSTOMER[1],
            media_id="4400000000000001",
            caption="This is what the courier left",
        )
    )

    def files() -> list[dict[str, object]]:
        return [f for m in slack.thread(CHANNEL, parent.ts) for f in (m.files or [])]

    script.expect(
        "Slack: the caption, then the picture itself as a file in the thread",
        lambda: len(files()) == 1,
    )
    [shared] = files()
    same = slack.file_content(str(shared["id"])) == photo
    script.say(
        f"Slack file: {shared['name']} ({len(photo)} bytes, {'identical' if same else 'DIFFERENT'})"
    )
    if not same:
        raise DemoFailedError("the file in Slack is not the customer's")

    script.step("WhatsApp refuses a reply: the agent is told why, in plain words")
    meta.fail_next(131026, "Message undeliverable", details="Receiver is incapable of receiving")
    refused = slack.agent_reply(channel=CHANNEL, thread_ts=parent.ts, text="Could you resend it?")
    script.expect(
        "Slack: ❌ on the reply, and a notice with Meta's code and what to do",
        lambda: (
            "x" in slack.reactions(CHANNEL, refused.ts)
            and any("131026" in m.text for m in slack.thread(CHANNEL, parent.ts))
        ),
    )
    explained = next(m for m in slack.thread(CHANNEL, parent.ts) if "131026" in m.text)
    script.say(f"Slack notice: {explained.text}")

    script.step(
        f"{LATE_CUSTOMER[1]} wrote 25 hours ago (Meta delivered it late): "
        "the 24-hour window is already closed"
    )
    late_text = "Do you ship to the UK?"
    sent_before = len(meta.sent_messages())
    meta.send_text(
        LATE_CUSTOMER[0], LATE_CUSTOMER[1], late_text, timestamp=int(time.time()) - 25 * 3600
    )
    script.expect(
        "Slack: a second thread appears for Grace",
        lambda: len(slack.top_level(CHANNEL)) == 2,
    )
    late_parent = slack.top_level(CHANNEL)[1]
    script.expect(
        "Slack: Grace's message is in her thread",
        lambda: any(m.text == late_text for m in slack.thread(CHANNEL, late_parent.ts)),
    )
    script.say('Slack reply by agent: "Yes we do!"')
    slack.agent_reply(channel=CHANNEL, thread_ts=late_parent.ts, text="Yes we do!")
    script.expect(
        "Slack: the bridge explains the window is closed and a template is needed",
        lambda: any("window closed" in m.text for m in slack.thread(CHANNEL, late_parent.ts)),
    )
    notice = next(m for m in slack.thread(CHANNEL, late_parent.ts) if "window closed" in m.text)
    script.say(f"Slack notice: {notice.text}")
    # A refused reply must stay refused: once the bridge is idle, nothing more can go out.
    if not box.wait_idle():
        raise DemoFailedError("the bridge did not settle")
    if len(meta.sent_messages()) != sent_before:
        raise DemoFailedError("nothing may reach WhatsApp outside the window")
    script.say("✓ WhatsApp: nothing was sent to Grace")

    script.step("The agent sends Grace an approved template instead: /wa template")
    command = "template +44 7911 123456 order_update en Grace | #2051"
    script.say(f"Slack: /wa {command}")
    answers = len(slack.responses())
    slack.slash_command("/wa", command)
    script.expect(
        "Slack: the bridge confirms, for the agent's eyes only",
        lambda: len(slack.responses()) > answers,
    )
    script.say(f"Slack (ephemeral): {slack.responses()[answers]['text']}")
    script.expect(
        "WhatsApp: the template went out to Grace",
        lambda: any(
            m.get("type") == "template" and m.get("to", "").endswith(LATE_CUSTOMER[0])
            for m in meta.sent_messages()
        ),
    )
    script.expect(
        "Slack: Grace's thread shows the template as she reads it",
        lambda: any("#2051 has shipped" in m.text for m in slack.thread(CHANNEL, late_parent.ts)),
    )

    script.step(f"{SOON_CUSTOMER[1]} wrote 22½ hours ago: her window closes in 1½ hours")
    meta.send_text(
        SOON_CUSTOMER[0],
        SOON_CUSTOMER[1],
        "Je voudrais changer ma commande.",
        timestamp=int(time.time()) - 22 * 3600 - 1800,
    )
    script.expect(
        "Slack: a third thread appears for Marie", lambda: len(slack.top_level(CHANNEL)) == 3
    )
    soon_parent = slack.top_level(CHANNEL)[2]
    script.expect(
        "Slack: the bridge warns in her thread and suggests templates",
        lambda: any("window closes in" in m.text for m in slack.thread(CHANNEL, soon_parent.ts)),
    )
    warning = next(m for m in slack.thread(CHANNEL, soon_parent.ts) if "window closes in" in m.text)
    script.say(f"Slack warning: {warning.text}")
    shown = slack.message(CHANNEL, soon_parent.ts)
    script.say(f"Slack parent now reads: {shown.text if shown else ''}")


def run_demo(*, keep: bool = False) -> int:
    """Play the scripted conversation; 0 when every step was observed."""
    workdir = Path(tempfile.mkdtemp(prefix="wabridge-demo-"))
    started = time.monotonic()
    print("wabridge demo: a WhatsApp conversation in a Slack thread, end to end.")
    print(f"Simulated Meta and Slack run on loopback; the bridge keeps its data in {workdir}.")
    code = 1
    try:
        # Scan for windows closing soon every 2 s, so the warning shows without a wait.
        with Sandbox(workdir=workdir, extra_env={"WABRIDGE_SCAN_INTERVAL": "2s"}) as box:
            print(f"Bridge started at {box.url} (a real `wabridge serve` process, SQLite).")
            script = _Script(box)
            try:
                _play(script)
            except DemoFailedError as failure:
                print(f"\n✗ Not observed within {STEP_TIMEOUT:.0f}s: {failure}", file=sys.stderr)
                if box.bridge is not None:
                    print(f"--- bridge log ---\n{box.bridge.log_tail()}", file=sys.stderr)
            else:
                took = time.monotonic() - started
                print(f"\nAll {script.steps} steps observed in {took:.1f}s. The bridge works.")
                code = 0
    finally:
        if keep:
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code
