"""Ingest: how many signed webhooks per second an endpoint answers, and how fast, under load.

The same N signed webhooks (customer messages and delivery statuses, single and batched
five to a webhook, over many contacts) are sent by C concurrent clients (a closed loop,
each sending its next webhook when its last is answered) to:

- ``bare``: a Starlette endpoint that only checks the HMAC (the ceiling; ``ingest_servers.py``);
- ``pywa``: pywa's FastAPI webhook handler (``ingest_servers.py``);
- ``wabridge``: ``wabridge serve`` (``--role all`` unless ``--role``), against both simulators,
  on SQLite or on the PostgreSQL ``--database-url`` names. Every webhook is stored durably
  before its 200, and the same process turns them into Slack work meanwhile.

Each server runs in a process of its own, and so do the simulators; the load comes from
this process (aiohttp). All share this machine's cores.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/ingest.py --webhooks 20000 --concurrency 32 64
    .venv/bin/python bench/ingest.py --database-url postgresql+psycopg://... --role split

Beside each rate: the CPU time the server's HTTP process spent per webhook (a figure the
other work on a shared machine barely moves) and the resident memory of all its processes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from memory import rss_mb

from sandbox.harness import APP_SECRET, Sandbox
from sandbox.meta_payloads import messages_webhook, status_object, text_message
from sandbox.server import free_port

PATH = "/webhooks/whatsapp"
PHONE_NUMBER_ID, DISPLAY, WABA = "1000000001", "15550001111", "100000000000001"
TARGETS = ("bare", "pywa", "wabridge")


def payloads(count: int, *, contacts: int = 500, seed: int = 7) -> list[bytes]:
    """``count`` webhook bodies: a quarter each of single messages, batches of five
    messages, single statuses and batches of five statuses."""
    rng = random.Random(seed)
    bodies: list[bytes] = []
    for n in range(count):
        kind = n % 4
        wa_id = f"49151{rng.randrange(contacts):08d}"
        if kind in (0, 1):
            size = 1 if kind == 0 else 5
            body: dict[str, Any] = messages_webhook(
                waba_id=WABA,
                display_phone_number=DISPLAY,
                phone_number_id=PHONE_NUMBER_ID,
                contacts=[(wa_id, f"Customer {wa_id[-4:]}")],
                messages=[
                    text_message(from_wa_id=wa_id, text=f"message {n}.{k}", wamid=f"wamid.B{n}.{k}")
                    for k in range(size)
                ],
            )
        else:
            size = 1 if kind == 2 else 5
            body = messages_webhook(
                waba_id=WABA,
                display_phone_number=DISPLAY,
                phone_number_id=PHONE_NUMBER_ID,
                contacts=[],
                messages=[],
            )
            value = body["entry"][0]["changes"][0]["value"]
            del value["contacts"], value["messages"]
            value["statuses"] = [
                status_object(wamid=f"wamid.OUT{n}.{k}", status="delivered", recipient_id=wa_id)
                for k in range(size)
            ]
        bodies.append(json.dumps(body).encode())
    return bodies


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def _load(url: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    signed = [(body, _sign(body)) for body in bodies]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    position = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal position
        while position < len(signed):
            body, signature = signed[position]
            position += 1
            started = time.perf_counter()
            async with session.post(
                url,
                data=body,
                headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
            ) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # A short warm-up, not counted: connections opened, code paths warm.
        warm = signed[: min(200, len(signed) // 10)]
        for body, signature in warm:
            async with session.post(url, data=body, headers={"X-Hub-Signature-256": signature}):
                pass
        position = len(warm)
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    answered = len(latencies)
    return {
        "per_s": answered / wall,
        "p50_ms": latencies[answered // 2] * 1000,
        "p99_ms": latencies[min(answered - 1, int(answered * 0.99))] * 1000,
        "ok": statuses.get(200, 0),
        "answered": answered,
    }


def _wait_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def _peer(kind: str) -> Iterator[tuple[str, list[int]]]:
    port = free_port()
    here = Path(__file__).parent
    process = subprocess.Popen(
        [
            *(sys.executable, str(here / "ingest_servers.py"), kind),
            *("--port", str(port), "--app-secret", APP_SECRET),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}{PATH}", [process.pid]
    finally:
        process.terminate()
        process.wait(timeout=10)


def _sandbox_child(workdir: str, database_url: str | None, role: str, pipe: Connection) -> None:
    """The simulators and ``wabridge serve`` (as its child), in a process of their own."""
    roles = {"all": ("all",), "web": ("web",), "split": ("web", "worker", "scheduler")}[role]
    # Paced as in service: Slack takes one post a second per channel, so most of the posts
    # this load causes are still queued when it ends (the run does not wait for them).
    box = Sandbox(workdir=Path(workdir), database_url=database_url, roles=roles)
    with box:
        pipe.send((box.url, [p.pid for p in box.processes]))
        pipe.recv()  # until the load is done


@contextmanager
def _wabridge(database_url: str | None, role: str) -> Iterator[tuple[str, list[int]]]:
    """The URL, and the bridge's processes: the one serving HTTP first."""
    with tempfile.TemporaryDirectory(prefix="wabridge-ingest-") as tmp:
        ours, theirs = multiprocessing.Pipe()
        child = multiprocessing.Process(
            target=_sandbox_child, args=(tmp, database_url, role, theirs)
        )
        child.start()
        try:
            url, pids = ours.recv()
            yield str(url) + PATH, [int(pid) for pid in pids]
            ours.send("done")
        finally:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (``/proc/<pid>/stat``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    target: str, bodies: list[bytes], concurrency: int, database_url: str | None, role: str
) -> dict[str, float]:
    """The load's figures, and the server's: the CPU its HTTP process spent per webhook
    answered (robust where the machine is shared, unlike the rates), and the resident
    memory of all its processes once the load is done."""
    server = _wabridge(database_url, role) if target == "wabridge" else _peer(target)
    with server as (url, pids):
        before = cpu_seconds(pids[0])
        result = asyncio.run(_load(url, bodies, concurrency))
        result["cpu_ms"] = (cpu_seconds(pids[0]) - before) * 1000 / result["answered"]
        result["rss_mb"] = sum(rss_mb(pid) for pid in pids)
        return result


def _fresh_database(base: str | None, n: int) -> str | None:
    if base is None:
        return None
    import psycopg

    name = f"wabridge_ingest_{os.getpid()}_{n}"
    with psycopg.connect(base.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base.rpartition('/')[0]}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default SQLite)")
    parser.add_argument("--role", choices=["all", "split", "web"], default="all")
    args = parser.parse_args()
    bodies = payloads(args.webhooks)
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{args.webhooks} webhooks, wabridge on {engine}, role {args.role}, {args.runs} runs")
    print(
        "| target | concurrency | webhooks/s | p50 ms | p99 ms | 200s "
        "| HTTP process CPU ms per webhook | resident MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results: dict[tuple[str, int], dict[str, float]] = {}
    n = 0
    for concurrency in args.concurrency:
        for target in args.targets:
            runs = []
            for _ in range(args.runs):
                n += 1
                url = _fresh_database(args.database_url, n) if target == "wabridge" else None
                runs.append(measure(target, bodies, concurrency, url, args.role))
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            results[(target, concurrency)] = median
            spread = f"{min(r['per_s'] for r in runs):.0f}-{max(r['per_s'] for r in runs):.0f}"
            print(
                f"| {target} | {concurrency} | {median['per_s']:.0f} ({spread}) "
                f"| {median['p50_ms']:.1f} | {median['p99_ms']:.1f} "
                f"| {int(median['ok'])}/{int(median['answered'])} "
                f"| {median['cpu_ms']:.2f} | {median['rss_mb']:.0f} |",
                flush=True,
            )
    for concurrency in args.concurrency:
        bare = results.get(("bare", concurrency))
        if not bare:
            continue
        for target in ("pywa", "wabridge"):
            other = results.get((target, concurrency))
            if other:
                ratio = other["per_s"] / bare["per_s"]
                print(f"{target} / bare at concurrency {concurrency}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
