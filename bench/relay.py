"""Relay latency: how long a message takes through ``wabridge serve``, each way, unhurried.

Starts the real bridge against the simulators and, with messages spaced far enough apart
that Slack's pacing never binds, measures:

- a customer's webhook sent -> its Slack post made;
- an agent's Slack event sent -> its WhatsApp send made (a reply that arrives alone goes at
  once; ``REPLY_SETTLE`` holds it only beside another Slack request, or with
  ``WABRIDGE_REPLY_SETTLE=always``, which ``--settle always`` sets).

With ``--load R``, other customers write meanwhile: R signed webhooks a second, each one
message from one of 200 other contacts, sent on schedule whatever the bridge answers (an
open loop), with Slack's and Meta's pacing off (``--unpaced`` alone turns it off too), so
what is measured is the bridge's own latency while it ingests and relays that load. Those
contacts open their conversations first, and the bridge is idle before the load starts: the
measure is of a steady load, not of 200 new customers arriving in one second (each new
conversation also costs a parent post, its contact and its thread).

    .venv/bin/python bench/relay.py --messages 20
    .venv/bin/python bench/relay.py --database-url postgresql+psycopg://...
    .venv/bin/python bench/relay.py --messages 30 --spacing 0.6 --load 20
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from ingest import cpu_seconds
from memory import UNPACED, _sign

from sandbox.harness import CHANNEL, Sandbox
from sandbox.meta_payloads import messages_webhook, text_message

#: Contacts of the background load (other than the measured customer).
LOAD_CONTACTS = 200


class Background:
    """Other customers writing at ``rate`` webhooks a second, until stopped, from a process of
    its own (in this one, its threads would hold the simulators' interpreter lock): webhook n
    is sent at ``n / rate`` seconds by one of ``SENDERS`` threads in turn, so a slow answer
    delays only its own thread's next webhook."""

    SENDERS = 32

    def __init__(self, box: Sandbox, rate: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._counts = context.Array("l", 3)  # sent, refused, sent late
        meta = box.meta
        self._process = context.Process(
            target=_send_load,
            args=(
                f"{box.url}/webhooks/whatsapp",
                (meta.waba_id, meta.display_phone_number, meta.phone_number_id),
                rate,
                self._stop,
                self._counts,
            ),
            name="background-load",
            daemon=True,
        )
        self.sent = self.refused = self.late = 0
        self.seconds = 0.0

    @property
    def rate(self) -> float:
        """Webhooks a second the load process managed to send."""
        return self.sent / self.seconds if self.seconds else 0.0

    def __enter__(self) -> Background:
        self._started = time.monotonic()
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=60)
        self.seconds = time.monotonic() - self._started
        self.sent, self.refused, self.late = self._counts[:]


def _send_load(
    url: str,
    number: tuple[str, str, str],
    rate: float,
    stop: Any,
    counts: Any,
) -> None:
    started = time.monotonic()
    waba_id, display_phone_number, phone_number_id = number

    def sender(k: int) -> None:
        with httpx.Client(timeout=30, trust_env=False) as http:
            for n in itertools.count(k, Background.SENDERS):
                wait = started + n / rate - time.monotonic()
                if wait < -0.1:  # this thread's answers came too slowly to keep the rate
                    with counts.get_lock():
                        counts[2] += 1
                if stop.wait(max(0.0, wait)):
                    return
                wa_id = _load_contact(n)
                body = json.dumps(
                    messages_webhook(
                        waba_id=waba_id,
                        display_phone_number=display_phone_number,
                        phone_number_id=phone_number_id,
                        contacts=[(wa_id, f"Load {wa_id[-3:]}")],
                        messages=[text_message(from_wa_id=wa_id, text=f"load {n}")],
                    )
                ).encode()
                answer = http.post(
                    url,
                    content=body,
                    headers={
                        "X-Hub-Signature-256": _sign(body),
                        "Content-Type": "application/json",
                    },
                )
                with counts.get_lock():
                    counts[0 if answer.status_code == 200 else 1] += 1

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(Background.SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run(
    messages: int,
    spacing: float,
    database_url: str | None,
    settle: str = "auto",
    *,
    load: float = 0.0,
    unpaced: bool = False,
    roles: tuple[str, ...] = ("all",),
) -> str:
    inbound: list[float] = []
    outbound: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        box = Sandbox(
            workdir=Path(tmp),
            database_url=database_url,
            roles=roles,
            extra_env={
                "WABRIDGE_REPLY_SETTLE": settle,
                **(UNPACED if unpaced or load else {}),
            },
        )
        with box:
            box.meta.send_text("4915100000001", "Bench", "opening")
            assert box.slack.wait_for(lambda: len(box.slack.top_level(CHANNEL)) == 1, timeout=30)
            thread = box.slack.top_level(CHANNEL)[0].ts
            if load:
                _open_load_conversations(box)
            background = Background(box, load) if load else None
            cpu = _bridge_cpu(box)
            with background or contextlib.nullcontext():
                if background is not None:
                    time.sleep(2.0)  # the load under way before the first measure
                _measure(box, thread, messages, spacing, inbound, outbound)
            cpu = _bridge_cpu(box) - cpu
            sent = (
                f", background {background.sent} sent ({background.rate:.0f}/s),"
                f" {background.refused} refused, {background.late} sent late, bridge CPU"
                f" {1000 * cpu / max(1, background.sent + 2 * messages):.2f} ms a message"
                if background
                else ""
            )
    engine = "PostgreSQL" if database_url else "SQLite"

    def cells(values: list[float]) -> str:
        ms = sorted(v * 1000 for v in values)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return f"{statistics.median(ms):.1f} | {p99:.0f}"

    return (
        f"| {engine}, {'+'.join(roles)} | {settle} | {load:g}/s{sent} | {messages} "
        f"| {cells(inbound)} | {cells(outbound)} |"
    )


def _bridge_cpu(box: Sandbox) -> float:
    """CPU seconds the bridge's processes have used so far."""
    return sum(cpu_seconds(p.pid) for p in box.processes if p.pid is not None)


def _open_load_conversations(box: Sandbox) -> None:
    """Each load contact writes once, and the bridge settles, before the load starts."""
    for n in range(LOAD_CONTACTS):
        wa_id = _load_contact(n)
        box.meta.send_text(wa_id, f"Load {wa_id[-3:]}", "hello")
    opened = LOAD_CONTACTS + 1
    assert box.slack.wait_for(lambda: len(box.slack.top_level(CHANNEL)) >= opened, timeout=120)
    assert box.wait_idle(timeout=60, waiting_ok=True)


def _load_contact(n: int) -> str:
    return f"49152{n % LOAD_CONTACTS:08d}"


def _measure(
    box: Sandbox,
    thread: str,
    messages: int,
    spacing: float,
    inbound: list[float],
    outbound: list[float],
) -> None:
    """One customer message, then one agent reply, ``messages`` times, each timed."""
    for n in range(messages):
        text = f"customer {n}"
        sent = time.time()
        box.meta.send_text("4915100000001", "Bench", text)

        assert box.slack.wait_for(lambda t=text: box.slack.find(CHANNEL, t) is not None, 120)
        post = box.slack.find(CHANNEL, text)
        assert post is not None
        inbound.append(float(post.ts) - sent)
        time.sleep(spacing / 2)

        reply = f"agent {n}"
        sent = time.time()
        box.slack.agent_reply(channel=CHANNEL, thread_ts=thread, text=reply)

        def sent_on(r: str = reply) -> bool:
            return any(m.get("text", {}).get("body") == r for m in box.meta.sent_messages())

        assert box.meta.wait_for(sent_on, timeout=120)
        [call] = [
            c
            for c in box.meta.calls("/messages")
            if isinstance(c.json, dict) and c.json.get("text", {}).get("body") == reply
        ]
        outbound.append(call.at - sent)
        time.sleep(spacing / 2)


#: The processes each ``--role`` runs.
ROLES: dict[str, tuple[str, ...]] = {
    "all": ("all",),
    "split": ("web", "worker", "scheduler"),
    "scaled": ("web", "web", "worker", "worker", "scheduler", "scheduler"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=1.5, help="seconds between messages")
    parser.add_argument("--database-url")
    parser.add_argument("--settle", choices=("auto", "always"), default="auto")
    parser.add_argument("--load", type=float, default=0.0, help="background webhooks a second")
    parser.add_argument("--unpaced", action="store_true", help="Slack's and Meta's pacing off")
    parser.add_argument(
        "--role",
        choices=("all", "split", "scaled"),
        default="all",
        help="split: web, worker and scheduler in processes of their own; scaled: two of each,"
        " the web processes behind a round-robin balancer (PostgreSQL)",
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(
        "| engine | reply settle | background load | messages each way "
        "| webhook -> Slack post p50 ms | p99 ms | Slack event -> WhatsApp send p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        run(
            args.messages,
            args.spacing,
            args.database_url,
            args.settle,
            load=args.load,
            unpaced=args.unpaced,
            roles=ROLES[args.role],
        )
    )


if __name__ == "__main__":
    main()
