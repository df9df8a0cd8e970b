"""The fault run: customers and agents talk through a real ``wabridge serve`` while the
simulators fail calls and the bridge is killed with SIGKILL and restarted; then every
message is counted on the other side.

Customers write through signed webhooks, sent again until answered ``200`` (Meta retries
anything else, and a killed process answers nothing). Agents reply in the threads through
Slack events, delivered again until answered ``200`` (Slack retries too). Meanwhile Slack
answers some calls ``429`` or ``500`` and Meta some sends ``130429`` or ``500``, and a
random bridge process is killed at random moments and started again.

Afterwards, once the bridge is idle:

- every customer message is in its conversation's thread exactly once, in the customer's
  order, and each conversation has one thread;
- every agent reply reached Meta exactly once, in the agent's order per conversation; or,
  where a kill left a send's outcome unknown (the request may have left, nothing was
  recorded), the bridge did not send it again by itself and asked the agent instead, with a
  "Maybe not sent" notice and its "Send again" button in the thread. Such a reply counts
  as "asked", never as lost; a reply neither sent nor asked about is lost.

``bench/faults.py`` runs it from the command line; ``tests/e2e/test_faults.py`` runs a
shorter one. Nothing here is imported by ``serve``.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sandbox.harness import API_TOKEN, CHANNEL, BridgeProcess, Sandbox
from sandbox.slack_sim import DeliveredEvent, SimMessage

__all__ = ["FaultReport", "FaultRun", "run_faults"]

#: How an agent sees a send whose outcome is unknown (slack_app/messages/notices.py).
MAYBE_NOT_SENT = "Maybe not sent"
SEND_AGAIN_ACTION = "wa_send_again"

# Registers the business numbers (each routed to its own channel) before the bridge starts,
# in one interpreter rather than one `wabridge numbers add` per number.
_ADD_NUMBERS = """
import sys
from wabridge.cli import main
if main(["migrate"]) != 0:
    sys.exit(1)
for spec in sys.argv[1:]:
    number_id, display, waba, channel = spec.split(":")
    argv = ["numbers", "add", "--phone-number-id", number_id, "--display-number", display,
            "--waba-id", waba, "--channel", channel]
    if main(argv) != 0:
        sys.exit(1)
"""


@dataclass(frozen=True, kw_only=True)
class FaultRun:
    """What one run does. ``workers`` 0: one ``--role all`` process; N: a ``web`` process,
    a ``scheduler`` process and N ``worker`` processes (PostgreSQL only)."""

    inbound: int = 500
    conversations: int = 50
    replies: int = 200
    kills: int = 10
    #: Business numbers, each with its own channel: Slack paces posts per channel (about
    #: one a second), so spreading conversations keeps a run short.
    numbers: int = 25
    workers: int = 0
    #: Customer messages and agent replies sent per second, over all conversations.
    rate: float = 25.0
    faults: bool = True
    seed: int = 1
    #: How long the bridge may take to finish its work once everything was sent.
    drain_timeout: float = 300.0


@dataclass(kw_only=True)
class FaultReport:
    """What was sent, what arrived, and what went wrong on the way."""

    inbound_sent: int = 0
    inbound_posted: int = 0
    inbound_duplicates: int = 0
    inbound_missing: int = 0
    inbound_out_of_order: int = 0
    threads_duplicated: int = 0
    replies_sent: int = 0
    replies_delivered: int = 0
    replies_duplicates: int = 0
    replies_asked: int = 0
    replies_missing: int = 0
    replies_out_of_order: int = 0
    kills: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    faults_hit: Counter[str] = field(default_factory=Counter)
    webhook_retries: int = 0
    event_retries: int = 0
    seconds: float = 0.0
    idle: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing twice, nothing out of order, and the bridge went idle."""
        return self.idle and not (
            self.inbound_duplicates
            or self.inbound_missing
            or self.inbound_out_of_order
            or self.threads_duplicated
            or self.replies_duplicates
            or self.replies_missing
            or self.replies_out_of_order
        )

    def lines(self) -> list[str]:
        def faults(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"

        return [
            f"inbound: sent {self.inbound_sent}, posted {self.inbound_posted}, "
            f"duplicates {self.inbound_duplicates}, missing {self.inbound_missing}, "
            f"out of order {self.inbound_out_of_order}, extra threads {self.threads_duplicated}",
            f"replies: sent {self.replies_sent}, delivered {self.replies_delivered}, "
            f"duplicates {self.replies_duplicates}, asked the agent {self.replies_asked}, "
            f"missing {self.replies_missing}, out of order {self.replies_out_of_order}",
            f"kills: {self.kills}; webhooks sent again {self.webhook_retries}, "
            f"Slack events sent again {self.event_retries}",
            f"faults injected: {faults(self.faults_injected)}",
            f"faults answered: {faults(self.faults_hit)}",
            f"idle at the end: {'yes' if self.idle else 'NO'}; {self.seconds:.1f} s",
            *self.problems[:20],
            "RESULT: " + ("OK" if self.ok else "FAILED"),
        ]


@dataclass(kw_only=True)
class _Conversation:
    index: int
    wa_id: str
    name: str
    number_id: str
    channel: str
    inbound: list[str]
    replies: list[str]
    thread_ts: str | None = None


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _plan(config: FaultRun, box: Sandbox) -> list[_Conversation]:
    inbound = _split(config.inbound, config.conversations)
    replies = _split(config.replies, config.conversations)
    numbers = [(box.meta.phone_number_id, CHANNEL)] + [
        (f"3100{n:06d}", f"C0FAULT{n:02d}") for n in range(1, config.numbers)
    ]
    return [
        _Conversation(
            index=c,
            wa_id=f"4917000{c:05d}",
            name=f"Faults {c:03d}",
            number_id=numbers[c % len(numbers)][0],
            channel=numbers[c % len(numbers)][1],
            inbound=[f"in {c:03d}.{n:03d}" for n in range(inbound[c])],
            replies=[f"re {c:03d}.{n:03d}" for n in range(replies[c])],
        )
        for c in range(config.conversations)
    ]


class _Driver:
    def __init__(self, config: FaultRun, box: Sandbox, say: Callable[[str], None]) -> None:
        self.config = config
        self.box = box
        self.say = say
        self.rng = random.Random(config.seed)
        self.conversations = _plan(config, box)
        self.total = config.inbound + config.replies
        self._lock = threading.Lock()
        self.done = 0
        self.report = FaultReport()
        self.stop = threading.Event()
        self.errors: list[str] = []
        #: Held while a bridge process is down: the kill and its restart are one step.
        self.restarting = threading.Lock()

    # -- setup ----------------------------------------------------------------------------

    def setup(self) -> None:
        box = self.box
        box.workdir.mkdir(parents=True, exist_ok=True)
        box.meta.webhook_attempts = 8  # Meta keeps retrying statuses across a restart
        box.meta.retry_backoff = 0.25
        box.meta.start()
        box.slack.start()
        base = box.url
        box.meta.webhook_url = f"{base}/webhooks/whatsapp"
        box.slack.events_url = f"{base}/slack/events"
        specs = []
        seen = {box.meta.phone_number_id}
        for conversation in self.conversations:
            number_id, channel = conversation.number_id, conversation.channel
            if number_id in seen:
                continue
            seen.add(number_id)
            display = f"1555{number_id[-6:]}"
            box.meta.add_phone_number(number_id, display)
            box.slack.add_channel(channel, channel.lower())
            specs.append(f"{number_id}:{display}:{box.meta.waba_id}:{channel}")
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", _ADD_NUMBERS, *specs],
            env=box.env(),
            cwd=box.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"adding the business numbers failed:\n{done.stderr}")
        box.start_bridge()

    def processes(self) -> list[BridgeProcess]:
        assert self.box.bridge is not None
        return [self.box.bridge, *self.box.others]

    # -- customers and agents -------------------------------------------------------------

    def _progress(self) -> None:
        with self._lock:
            self.done += 1

    def _pause(self) -> None:
        # Exponential gaps: each conversation's share of the overall rate.
        self.stop.wait(self.rng.expovariate(self.config.rate / self.config.conversations))

    def _send_inbound(self, conversation: _Conversation, text: str) -> None:
        meta = self.box.meta
        payload = meta.build_text_webhook(
            from_wa_id=conversation.wa_id,
            name=conversation.name,
            text=text,
            phone_number_id=conversation.number_id,
        )
        delay = 0.2
        for attempt in range(200):
            if attempt:
                with self._lock:
                    self.report.webhook_retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            try:
                status = meta.post_webhook(payload).status_code
            except httpx.TransportError:
                continue
            if status == 200:
                self._progress()
                return
            if status not in (500, 502, 503, 504):
                raise RuntimeError(f"webhook answered {status}")
        raise RuntimeError(f"webhook for {text!r} never answered 200")

    def _thread(self, conversation: _Conversation) -> str:
        if conversation.thread_ts is None:
            wanted = f"*{conversation.name}*"

            def found() -> bool:
                # An agent answers what the customer wrote: the thread with its first message.
                # (A reply in a thread whose parent the bridge posted but has not recorded
                # yet is not taken: see docs/operations.md, "Fault runs".)
                slack = self.box.slack
                parents = [
                    m for m in slack.top_level(conversation.channel) if wanted in (m.text or "")
                ]
                if parents and any(
                    m.text == conversation.inbound[0]
                    for m in slack.thread(conversation.channel, parents[0].ts)
                ):
                    conversation.thread_ts = parents[0].ts
                return conversation.thread_ts is not None

            if not self.box.slack.wait_for(found, timeout=self.config.drain_timeout):
                raise RuntimeError(f"no thread for {conversation.name}")
        assert conversation.thread_ts is not None
        return conversation.thread_ts

    def _send_reply(self, conversation: _Conversation, text: str) -> None:
        slack = self.box.slack
        thread_ts = self._thread(conversation)
        event: DeliveredEvent = slack.agent_reply(
            channel=conversation.channel, thread_ts=thread_ts, text=text
        )
        delay = 0.2
        retry = 0
        while event.status != 200:
            if event.status not in (0, 500, 502, 503, 504) or retry >= 200:
                raise RuntimeError(f"Slack event for {text!r} answered {event.status}")
            retry += 1
            with self._lock:
                self.report.event_retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            event = slack.redeliver(event, retry_num=min(retry, 3))
        self._progress()

    def converse(self, conversation: _Conversation) -> None:
        """One customer writes, one agent replies, in a random interleaving; the customer
        writes first."""
        rng = random.Random(self.config.seed * 1000 + conversation.index)
        steps = [("in", t) for t in conversation.inbound[1:]] + [
            ("re", t) for t in conversation.replies
        ]
        rng.shuffle(steps)
        inbound = iter(conversation.inbound[1:])
        replies = iter(conversation.replies)
        # Keep each side's own order; only the interleaving is random.
        ordered = [("in", conversation.inbound[0])] + [
            (kind, next(inbound) if kind == "in" else next(replies)) for kind, _ in steps
        ]
        try:
            for kind, text in ordered:
                self._pause()
                if self.stop.is_set():
                    return
                if kind == "in":
                    self._send_inbound(conversation, text)
                else:
                    self._send_reply(conversation, text)
        except Exception as error:  # a driver failure ends the run, reported
            self.errors.append(f"{conversation.name}: {error!r}")
            self.stop.set()

    # -- chaos ----------------------------------------------------------------------------

    def inject_faults(self) -> None:
        """A fault every few messages, while the conversations run; none once they are done
        (a fault queued behind the last send would only keep hitting its retries)."""
        slack, meta = self.box.slack, self.box.meta
        rng = random.Random(self.config.seed + 7)
        while not self.stop.is_set():
            due = self.done + rng.randint(2, 8)
            while self.done < due and not self.stop.wait(0.05):
                pass
            if self.stop.is_set():
                break
            kind = rng.choice(("slack 429", "slack 500", "meta 130429", "meta 500"))
            count = rng.randint(1, 2)
            method = rng.choice(("chat.postMessage", None))
            if kind == "slack 429":
                slack.rate_limit_next(method, count=count, retry_after=1)
            elif kind == "slack 500":
                slack.fail_next(method, count=count, status=500)
            elif kind == "meta 130429":
                meta.fail_next(130429, "Rate limit hit", http_status=400, count=count)
            else:
                meta.fail_next(131000, "Something went wrong", http_status=500, count=count)
            self.report.faults_injected[kind] += count
        slack.heal()
        meta.heal()

    def kill_now_and_then(self) -> None:
        """SIGKILL a random bridge process at random points of the run, and start it again."""
        rng = random.Random(self.config.seed + 13)
        marks = sorted(rng.uniform(0.05, 1.0) for _ in range(self.config.kills))
        for mark in marks:
            while self.done < mark * self.total:
                if self.stop.wait(0.05):
                    return
            if self.stop.wait(rng.uniform(0.0, 0.5)):
                return
            with self.restarting:
                process = rng.choice(self.processes())
                process.kill()
                self.report.kills += 1
                self.say(f"killed {process.role} at {self.done}/{self.total}")
                time.sleep(rng.uniform(0.0, 0.5))
                process.start()

    # -- the check ------------------------------------------------------------------------

    def _pages(self, path: str) -> list[Any]:
        """Every item of a REST API list, page after page (``X-Next-Cursor``)."""
        items: list[Any] = []
        params: dict[str, Any] = {"limit": 100}
        with httpx.Client(timeout=30, trust_env=False) as client:
            while True:
                response = client.get(
                    f"{self.box.url}/api/v1/{path}",
                    params=params,
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                )
                response.raise_for_status()
                items += response.json()
                cursor = response.headers.get("X-Next-Cursor")
                if not cursor:
                    return items
                params["cursor"] = cursor

    def _reply_ids(self) -> dict[int, str]:
        """Agents' reply texts by the bridge's message id, through the REST API."""
        ids: dict[int, str] = {}
        for conversation in self._pages("conversations"):
            for message in self._pages(f"conversations/{conversation['id']}/messages"):
                text = (message.get("content") or {}).get("text")
                if message["direction"] == "outbound" and isinstance(text, str):
                    ids[int(message["id"])] = text
        return ids

    @staticmethod
    def _asked_ids(messages: Sequence[SimMessage]) -> set[int]:
        """Message ids of the "Send again" buttons under "Maybe not sent" notices."""
        asked: set[int] = set()
        for message in messages:
            if MAYBE_NOT_SENT not in (message.text or ""):
                continue
            for block in message.blocks or []:
                for element in block.get("elements") or []:
                    if element.get("action_id") == SEND_AGAIN_ACTION:
                        asked.add(int(element["value"]))
        return asked

    def check(self) -> None:
        report, slack = self.report, self.box.slack
        report.inbound_sent = self.config.inbound
        report.replies_sent = self.config.replies
        sent = Counter[str]()
        sent_order: dict[str, list[str]] = {}
        for _, body in self.box.meta.sends():
            text = (body.get("text") or {}).get("body")
            if isinstance(text, str):
                sent[text] += 1
                sent_order.setdefault(str(body.get("to")), []).append(text)
        reply_ids = self._reply_ids()
        asked_texts: set[str] = set()
        for conversation in self.conversations:
            parents = [
                m
                for m in slack.top_level(conversation.channel)
                if f"*{conversation.name}*" in (m.text or "")
            ]
            if len(parents) != 1:
                report.threads_duplicated += max(0, len(parents) - 1)
                report.problems.append(f"{conversation.name}: {len(parents)} threads")
            posted: list[str] = []
            thread: list[SimMessage] = []
            for parent in parents:
                thread += slack.thread(conversation.channel, parent.ts)
                posted += [m.text for m in thread if m.bot_id and m.text in conversation.inbound]
            counts = Counter(posted)
            for text in conversation.inbound:
                if counts[text] == 0:
                    report.inbound_missing += 1
                    report.problems.append(f"{conversation.name}: {text!r} never posted")
                else:
                    report.inbound_posted += 1
                    report.inbound_duplicates += counts[text] - 1
                    if counts[text] > 1:
                        report.problems.append(f"{conversation.name}: {text!r} posted twice")
            firsts = list(dict.fromkeys(posted))
            if firsts != sorted(firsts):
                report.inbound_out_of_order += sum(
                    1 for a, b in zip(firsts, sorted(firsts), strict=True) if a != b
                )
                report.problems.append(f"{conversation.name}: posted out of order: {firsts}")
            asked = {reply_ids[i] for i in self._asked_ids(thread) if i in reply_ids}
            asked_texts |= asked
            delivered = [
                t for t in sent_order.get(conversation.wa_id, []) if t in conversation.replies
            ]
            firsts = list(dict.fromkeys(delivered))
            if firsts != sorted(firsts):
                report.replies_out_of_order += sum(
                    1 for a, b in zip(firsts, sorted(firsts), strict=True) if a != b
                )
                report.problems.append(f"{conversation.name}: sent out of order: {firsts}")
            for text in conversation.replies:
                if sent[text] >= 1:
                    report.replies_delivered += 1
                    report.replies_duplicates += sent[text] - 1
                    if sent[text] > 1:
                        report.problems.append(f"{conversation.name}: {text!r} sent twice")
                elif text in asked:
                    report.replies_asked += 1
                else:
                    report.replies_missing += 1
                    report.problems.append(f"{conversation.name}: {text!r} never sent")
        for method, status, kind in (
            ("chat.postMessage", 429, "slack 429"),
            (None, 500, "slack 500"),
        ):
            report.faults_hit[kind] = sum(1 for c in slack.calls(method) if c.status == status)
        for call in self.box.meta.calls("/messages"):
            if call.status == 500:
                report.faults_hit["meta 500"] += 1
            elif call.status == 400:
                report.faults_hit["meta 130429"] += 1

    # -- the run --------------------------------------------------------------------------

    def run(self) -> FaultReport:
        started = time.monotonic()
        self.setup()
        self.say(
            f"sending {self.config.inbound} customer messages over "
            f"{self.config.conversations} conversations and {self.config.replies} replies"
        )
        talkers = [
            threading.Thread(target=self.converse, args=(c,), daemon=True)
            for c in self.conversations
        ]
        chaos = [
            threading.Thread(target=self.kill_now_and_then, daemon=True),
            *(
                [threading.Thread(target=self.inject_faults, daemon=True)]
                if self.config.faults
                else []
            ),
        ]
        for thread in (*talkers, *chaos):
            thread.start()
        for thread in talkers:
            thread.join()
        chaos[0].join()  # the last kills may fall after everything was sent
        self.stop.set()
        for thread in chaos:
            thread.join()
        self.report.problems += self.errors
        self.say("everything sent; waiting for the bridge to finish")
        self.report.idle = self.box.wait_idle(timeout=self.config.drain_timeout)
        self.check()
        self.report.seconds = time.monotonic() - started
        return self.report


def run_faults(
    config: FaultRun,
    *,
    workdir: Path,
    database_url: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> FaultReport:
    """Run the fault run on a fresh database and return what it found."""
    roles = ("all",) if config.workers == 0 else ("web", "scheduler") + ("worker",) * config.workers
    box = Sandbox(workdir=workdir, database_url=database_url, roles=roles)
    driver = _Driver(config, box, say)
    try:
        return driver.run()
    finally:
        box.stop()
