"""Memory over time: the resident memory of ``wabridge serve --role all`` idle, after 100,000
events and after 200,000, to see that it stays small and stops growing.

Starts the real bridge (a child process) against the Meta and Slack simulators (which run in
this process, so what they keep is not counted) and feeds it events, each a customer message
or a delivery status:

- customer messages, five to a signed webhook, from contacts that keep changing (each writes
  for a few rounds, then a new one starts), so new conversations and threads keep opening;
- agents' replies in the threads of recent conversations (Slack ``message`` events), which the
  bridge sends to Meta; Meta's automatic statuses are off, and this script sends the replies'
  ``sent``, ``delivered`` and ``read`` statuses itself, five to a signed webhook.

Every message is posted in its thread, marked read and counted, every status shown on the
agent's post; the Slack simulator echoes the bot's own posts as events, as Slack does. A round
is 200 messages and 20 replies' 60 statuses (260 events); the script waits while the bridge's
backlog passes ``--backlog`` jobs and webhooks, so what is measured is what the bridge keeps,
not a queue.

Slack's and Meta's pacing is switched off (``WABRIDGE_SLACK_POST_RATE=off``,
``WABRIDGE_SLACK_TIER_RATES=off,off,off,off``, ``WABRIDGE_META_RATE=off``,
``WABRIDGE_META_PAIR_RATE=off``): at Slack's real pace (one post a second in one channel) the
run would take days. Pacing keeps a bounded table of buckets, so this changes its speed, not
what it keeps.

Samples: VmRSS (``/proc/<pid>/status``) once idle at the start, once idle after each
``--events`` (default 100,000, twice), and, as a trend, every 20,000 events while it works.
Linux only. ``--tracemalloc`` has the child trace its allocations from the first idle sample
(``bench/memtrace/sitecustomize.py``, on ``SIGUSR1``) and prints where the memory allocated
between the last two idle samples was allocated: the bridge then runs about ten times
slower, so give it fewer events.

    .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --database-url postgresql+psycopg://...
    .venv/bin/python bench/memory.py --events 20000 --tracemalloc
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import signal
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

from sandbox.harness import API_TOKEN, APP_SECRET, CHANNEL, Sandbox
from sandbox.meta_payloads import messages_webhook, status_object, statuses_webhook, text_message

HERE = Path(__file__).parent
PER_WEBHOOK = 5
#: Per round: message webhooks (of PER_WEBHOOK messages each), and agents' replies (each
#: brings three statuses).
MESSAGE_WEBHOOKS, REPLIES = 40, 20
ROUND_EVENTS = MESSAGE_WEBHOOKS * PER_WEBHOOK + REPLIES * 3
#: Contacts writing in one round; each writes for CONTACT_ROUNDS rounds.
CONTACTS_PER_ROUND, CONTACT_ROUNDS = 40, 5
TREND_EVERY = 20_000
UNPACED = {
    "WABRIDGE_SLACK_POST_RATE": "off",
    "WABRIDGE_SLACK_TIER_RATES": "off,off,off,off",
    "WABRIDGE_META_RATE": "off",
    "WABRIDGE_META_PAIR_RATE": "off",
}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A figure of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``: the peak), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


class Load:
    """Rounds of events against one sandbox."""

    def __init__(self, box: Sandbox, *, backlog: int) -> None:
        self.box = box
        self.backlog = backlog
        self.round = 0
        self.events = 0
        self.replies_sent = 0
        self._sends_seen = 0
        self._http = httpx.Client(timeout=30, trust_env=False)
        self._webhook_url = f"{box.url}/webhooks/whatsapp"

    def close(self) -> None:
        self._http.close()

    def _post(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        response = self._http.post(
            self._webhook_url,
            content=raw,
            headers={"X-Hub-Signature-256": _sign(raw), "Content-Type": "application/json"},
        )
        response.raise_for_status()

    def _metadata(self) -> dict[str, str]:
        meta = self.box.meta
        return {
            "waba_id": meta.waba_id,
            "display_phone_number": meta.display_phone_number,
            "phone_number_id": meta.phone_number_id,
        }

    def _messages(self) -> None:
        first = self.round * (CONTACTS_PER_ROUND // CONTACT_ROUNDS)
        now = int(time.time())
        for n in range(MESSAGE_WEBHOOKS):
            wa_id = f"49151{first + n % CONTACTS_PER_ROUND:08d}"
            body = messages_webhook(
                **self._metadata(),
                contacts=[(wa_id, f"Customer {wa_id[-5:]}")],
                messages=[
                    text_message(
                        from_wa_id=wa_id,
                        text=f"Round {self.round}, message {n}.{k}: where is my order?",
                        wamid=f"wamid.MEM{self.round}.{n}.{k}",
                        timestamp=now,
                    )
                    for k in range(PER_WEBHOOK)
                ],
            )
            self._post(body)
            self.events += PER_WEBHOOK

    def _threads(self) -> list[str]:
        """Threads of the conversations written to last (the REST API, newest first)."""
        response = self._http.get(
            f"{self.box.url}/api/v1/conversations",
            params={"limit": 5 * REPLIES},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
        response.raise_for_status()
        threads = [c["slack_thread_ts"] for c in response.json() if c["slack_thread_ts"]]
        return threads[:REPLIES]

    def _replies(self) -> None:
        for n, thread in enumerate(self._threads()):
            self.box.slack.agent_reply(
                channel=CHANNEL, thread_ts=thread, text=f"Round {self.round}: on its way ({n})"
            )
            self.replies_sent += 1

    def _statuses(self) -> None:
        """The statuses of every send Meta accepted since the last round, five a webhook."""
        sends = self.box.meta.sends()[self._sends_seen :]
        self._sends_seen += len(sends)
        pending = [
            status_object(wamid=wamid, status=status, recipient_id=body["to"])
            for status in ("sent", "delivered", "read")
            for wamid, body in sends
        ]
        for start in range(0, len(pending), PER_WEBHOOK):
            self._post(
                statuses_webhook(**self._metadata(), statuses=pending[start : start + PER_WEBHOOK])
            )
        self.events += len(pending)

    def _wait_backlog(self) -> None:
        while True:
            work = self.box.work()
            depth = work.get("wabridge_inbox_depth", 0) + work.get("wabridge_outbox_depth", 0)
            if depth <= self.backlog:
                return
            time.sleep(0.2)

    def run_round(self) -> None:
        self._statuses()  # of the last round's replies, sent by now or soon
        self._messages()
        self._replies()
        self.round += 1
        self._wait_backlog()

    def settle(self) -> None:
        """Until every reply was sent and its statuses shown, and nothing is left to do."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if not self.box.wait_idle(timeout=600):
                raise TimeoutError("the bridge did not settle")
            if len(self.box.meta.sends()) == self._sends_seen:
                return
            self._statuses()
        raise TimeoutError("statuses kept coming")


def _dump_snapshot(pid: int, path: Path) -> tracemalloc.Snapshot:
    """Ask the traced child for a snapshot (SIGUSR1) and read it."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no tracemalloc snapshot from the bridge")
        time.sleep(0.5)
    return tracemalloc.Snapshot.load(str(path))


def _machine() -> str:
    memory = subprocess.run(["free", "-m"], capture_output=True, text=True, check=False).stdout
    total = next((line.split()[1] for line in memory.splitlines() if line.startswith("Mem:")), "?")
    return (
        f"{os.cpu_count()} CPUs, {total} MiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="wabridge-memory-") as tmp:
        env = dict(UNPACED)
        snapshot_path = Path(tmp) / "snapshot"
        if args.tracemalloc:
            env["PYTHONPATH"] = str(HERE / "memtrace")
            env["WABRIDGE_BENCH_TRACEMALLOC"] = str(snapshot_path)
        box = Sandbox(
            workdir=Path(tmp),
            database_url=args.database_url,
            extra_env=env,
            meta_options={"auto_statuses": ()},
        )
        with box:
            assert box.bridge is not None and box.bridge.pid is not None
            pid = box.bridge.pid
            load = Load(box, backlog=args.backlog)
            try:
                assert box.wait_idle(timeout=60), "the bridge did not settle after starting"
                started = time.monotonic()
                idle = [(0, rss_mb(pid), 0.0)]
                print(f"idle at start: {idle[0][1]:.1f} MiB", flush=True)
                snapshots = [_dump_snapshot(pid, snapshot_path)] if args.tracemalloc else []
                next_trend = TREND_EVERY
                for stage in range(1, args.stages + 1):
                    while load.events < stage * args.events:
                        load.run_round()
                        if load.events >= next_trend:
                            print(
                                f"  {load.events} events, busy: {rss_mb(pid):.1f} MiB "
                                f"({time.monotonic() - started:.0f} s)",
                                flush=True,
                            )
                            next_trend += TREND_EVERY
                    load.settle()
                    idle.append((load.events, rss_mb(pid), time.monotonic() - started))
                    print(
                        f"idle after {load.events} events: {idle[-1][1]:.1f} MiB "
                        f"({idle[-1][2]:.0f} s)",
                        flush=True,
                    )
                    if args.tracemalloc:
                        snapshots.append(_dump_snapshot(pid, snapshot_path))
                peak = rss_mb(pid, "VmHWM")
            finally:
                load.close()
            log = box.bridge.log_path.read_text(errors="replace")
            errors = sum(1 for line in log.splitlines() if " ERROR " in line)
            slack_posts = len(box.slack.calls("chat.postMessage"))
            meta_sends = len(box.meta.sends())
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print()
    print(f"machine: {_machine()}; {engine}; {load.round} rounds, {load.replies_sent} replies,")
    print(f"{slack_posts} Slack posts, {meta_sends} Meta sends; ERROR lines in its log: {errors}")
    print(f"peak RSS (VmHWM) over the run: {peak:.1f} MiB")
    print("| events | idle RSS MiB | growth since the last sample MiB | elapsed s |")
    print("|---|---|---|---|")
    for n, (events, mb, seconds) in enumerate(idle):
        growth = "" if n == 0 else f"{mb - idle[n - 1][1]:+.1f}"
        print(f"| {events} | {mb:.1f} | {growth} | {seconds:.0f} |")
    if len(snapshots) >= 2:
        print("\nwhere the memory allocated between the last two idle samples was allocated:")
        for stat in snapshots[-1].compare_to(snapshots[-2], "traceback")[:15]:
            print(f"{stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks")
            for line in stat.traceback.format()[-6:]:
                print("    " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events between samples")
    parser.add_argument("--stages", type=int, default=2, help="idle samples after the first")
    parser.add_argument("--backlog", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default SQLite)")
    parser.add_argument("--tracemalloc", action="store_true")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
