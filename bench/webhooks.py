"""Webhook load: how fast ``wabridge serve`` answers Meta, and how fast threads fill up.

Starts the real bridge (a ``wabridge serve`` process) against the simulators, sends
N signed webhooks (one customer message each, spread over many contacts) at a fixed rate
(open loop, as Meta sends them, whatever the answers do), and reports the latency of the
``200`` (p50/p95/p99) and how fast the queued messages then reach Slack (bounded on purpose
by the per-channel pacing, about one post per second per channel, as Slack itself allows).

    .venv/bin/python bench/webhooks.py --requests 3000 --rate 50
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


async def _fire(url: str, bodies: list[bytes], rate: float) -> list[float]:
    """Open loop: one webhook every 1/rate seconds, whatever the answers do (as Meta sends)."""
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient, body: bytes) -> None:
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        started = time.perf_counter()
        response = await client.post(url, content=body, headers={"X-Hub-Signature-256": signature})
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}")

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200), timeout=30) as client:
        tasks = []
        start = time.perf_counter()
        for n, body in enumerate(bodies):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, body)))
        await asyncio.gather(*tasks)
    return latencies


def run(
    requests: int,
    rate: float,
    contacts: int,
    database_url: str | None,
    drain: float,
    roles: tuple[str, ...],
) -> str:
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        box = Sandbox(
            workdir=Path(tmp),
            database_url=database_url,
            meta_options={"auto_statuses": ()},
            slack_options={"echo_bot_messages": False},
            roles=roles,
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
            latencies = asyncio.run(_fire(f"{box.url}/webhooks/whatsapp", bodies, rate))
            answered = time.perf_counter() - started
            before = len(box.slack.messages(CHANNEL))
            time.sleep(drain)
            posted_per_second = (len(box.slack.messages(CHANNEL)) - before) / drain
    engine = ("PostgreSQL" if database_url else "SQLite") + f" ({' + '.join(roles)})"
    ms = [v * 1000 for v in latencies]
    p50, p95, p99 = statistics.median(ms), _quantile(ms, 0.95), _quantile(ms, 0.99)
    return (
        f"| {engine} | {requests} | {rate:.0f} | {contacts} "
        f"| {p50:.1f} | {p95:.1f} | {p99:.1f} "
        f"| {requests / answered:.0f} | {posted_per_second:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0, help="webhooks per second")
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--database-url")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to count Slack posts")
    parser.add_argument(
        "--roles", default="all", help="comma-separated serve roles, e.g. web,worker (PostgreSQL)"
    )
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.system()}")
    print(
        "| engine (roles) | webhooks | sent/s | contacts | p50 ms | p95 ms | p99 ms "
        "| answered/s | Slack posts/s after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    roles = tuple(args.roles.split(","))
    print(run(args.requests, args.rate, args.contacts, args.database_url, args.drain, roles))


if __name__ == "__main__":
    main()
