"""Relay latency: how long a message takes through ``wabridge serve``, each way, unhurried.

Starts the real bridge against the simulators and, with messages spaced far enough apart
that Slack's pacing never binds, measures:

- a customer's webhook sent -> its Slack post made;
- an agent's Slack event sent -> its WhatsApp send made (a reply that arrives alone goes at
  once; ``REPLY_SETTLE`` holds it only beside another Slack request, or with
  ``WABRIDGE_REPLY_SETTLE=always``, which ``--settle always`` sets).

    .venv/bin/python bench/relay.py --messages 20
    .venv/bin/python bench/relay.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from sandbox.harness import CHANNEL, Sandbox


def run(messages: int, spacing: float, database_url: str | None, settle: str = "auto") -> str:
    inbound: list[float] = []
    outbound: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        box = Sandbox(
            workdir=Path(tmp),
            database_url=database_url,
            extra_env={"WABRIDGE_REPLY_SETTLE": settle},
        )
        with box:
            box.meta.send_text("4915100000001", "Bench", "opening")
            assert box.slack.wait_for(lambda: len(box.slack.messages(CHANNEL)) == 2, timeout=30)
            thread = box.slack.top_level(CHANNEL)[0].ts
            for n in range(messages):
                text = f"customer {n}"
                sent = time.time()
                box.meta.send_text("4915100000001", "Bench", text)
                assert box.slack.wait_for(
                    lambda t=text: any(m.text == t for m in box.slack.messages(CHANNEL)),
                    timeout=30,
                )
                [post] = [m for m in box.slack.messages(CHANNEL) if m.text == text]
                inbound.append(float(post.ts) - sent)
                time.sleep(spacing / 2)

                reply = f"agent {n}"
                sent = time.time()
                box.slack.agent_reply(channel=CHANNEL, thread_ts=thread, text=reply)
                assert box.meta.wait_for(
                    lambda r=reply: any(
                        m.get("text", {}).get("body") == r for m in box.meta.sent_messages()
                    ),
                    timeout=30,
                )
                [call] = [
                    c
                    for c in box.meta.calls("/messages")
                    if isinstance(c.json, dict) and c.json.get("text", {}).get("body") == reply
                ]
                outbound.append(call.at - sent)
                time.sleep(spacing / 2)
    engine = "PostgreSQL" if database_url else "SQLite"

    def cells(values: list[float]) -> str:
        ms = sorted(v * 1000 for v in values)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return f"{statistics.median(ms):.0f} | {p99:.0f}"

    return f"| {engine} | {settle} | {messages} | {cells(inbound)} | {cells(outbound)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=1.5, help="seconds between messages")
    parser.add_argument("--database-url")
    parser.add_argument("--settle", choices=("auto", "always"), default="auto")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(
        "| engine | reply settle | messages each way | webhook -> Slack post p50 ms | p99 ms "
        "| Slack event -> WhatsApp send p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|")
    print(run(args.messages, args.spacing, args.database_url, args.settle))


if __name__ == "__main__":
    main()
