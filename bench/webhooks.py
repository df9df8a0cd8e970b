"""Webhook load: how fast ``wabridge serve`` answers Meta, and how fast threads fill up.

Starts the real bridge (a ``wabridge serve`` process) against the simulators, sends
N signed webhooks (one customer message each, spread over many contacts) from C
concurrent connections, and reports the latency of the ``200`` (p50/p95/p99) and
the time until every message is posted in Slack.

    .venv/bin/python bench/webhooks.py --requests 2000 --concurrency 20
    .venv/bin/python bench/webhooks.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from sandbox.harness import APP_SECRET, CHANNEL, Sandbox


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _fire(url: str, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            started = time.perf_counter()
            response = await client.post(
                url, content=body, headers={"X-Hub-Signature-256": signature}
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"webhook answered {response.status_code}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def run(requests: int, concurrency: int, contacts: int, database_url: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        box = Sandbox(
            workdir=Path(tmp),
            database_url=database_url,
            meta_options={"auto_statuses": ()},
            slack_options={"echo_bot_messages": False},
        )
        with box:
            bodies = [
                json.dumps(
                    box.meta.build_text_webhook(
                        from_wa_id=f"49151{n % contacts:07d}",
                        name=f"Customer {n % contacts}",
                        text=f"message {n}",
                    )
                ).encode()
                for n in range(requests)
            ]
            started = time.perf_counter()
            latencies = asyncio.run(_fire(f"{box.url}/webhooks/whatsapp", bodies, concurrency))
            answered = time.perf_counter() - started
            expected = requests + min(contacts, requests)  # replies plus one parent per contact
            box.slack.wait_for(lambda: len(box.slack.messages(CHANNEL)) >= expected, timeout=600)
            drained = time.perf_counter() - started
            posted = len(box.slack.messages(CHANNEL))
    engine = "PostgreSQL" if database_url else "SQLite"
    ms = [v * 1000 for v in latencies]
    p50, p95, p99 = statistics.median(ms), _quantile(ms, 0.95), _quantile(ms, 0.99)
    return (
        f"| {engine} | {requests} | {concurrency} | {contacts} "
        f"| {p50:.1f} | {p95:.1f} | {p99:.1f} "
        f"| {requests / answered:.0f} | {drained:.1f} | {posted}/{expected} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(
        "| engine | webhooks | concurrency | contacts | p50 ms | p95 ms | p99 ms "
        "| answered/s | all in Slack after s | posts |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(run(args.requests, args.concurrency, args.contacts, args.database_url))


if __name__ == "__main__":
    main()
