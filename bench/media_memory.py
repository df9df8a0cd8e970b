"""Media relay memory: how much the ``wabridge serve`` process grows while it relays a large
file, each way.

Starts the real bridge (a child process) against the Meta and Slack simulators (which run in
this process, so their copies of the file are not counted) and measures the bridge's
resident memory:

- in: a customer sends a 50 MiB ``video/mp4``; the bridge fetches it from Meta and uploads it
  into the thread (``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``);
- out: an agent shares a 15 MiB ``video/mp4`` in the thread; the bridge fetches it from Slack,
  uploads it to Meta (``POST /{phone_number_id}/media``) and sends the video.

For each, the baseline is the bridge's RSS once idle just before the file, and the peak its
high-water mark (``VmHWM``, reset before each file through ``/proc/<pid>/clear_refs``) from
then until the file has arrived and the bridge is idle again; VmRSS is also sampled every
10 ms as a check. Linux only.

    .venv/bin/python bench/media_memory.py
    .venv/bin/python bench/media_memory.py --runs 3 --inbound-mb 50 --outbound-mb 15
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.harness import CHANNEL, Sandbox

MB = 1024 * 1024
CUSTOMER = ("4915100000001", "Bench")


def _status_kb(pid: int, field: str) -> int:
    """One ``kB`` figure of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _reset_peak(pid: int) -> bool:
    """Start ``VmHWM`` afresh from the current RSS (Linux 4.0+); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """VmRSS of a process every ``interval`` seconds, on a thread; keeps the highest."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _status_kb(self.pid, "VmRSS"))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True, slots=True)
class Measure:
    baseline_mb: float
    peak_mb: float  # VmHWM (or the sampled peak where clear_refs is not allowed)
    sampled_peak_mb: float
    seconds: float

    @property
    def delta_mb(self) -> float:
        return self.peak_mb - self.baseline_mb


def _measure(
    box: Sandbox, pid: int, relay: Callable[[], object], arrived: Callable[[], bool]
) -> Measure:
    assert box.wait_idle(timeout=60), "the bridge did not settle before the file"
    baseline = _status_kb(pid, "VmRSS")
    hwm_reset = _reset_peak(pid)
    started = time.monotonic()
    with Sampler(pid) as sampler:
        relay()
        if not box.slack.wait_for(arrived, timeout=300):
            raise TimeoutError("the file did not arrive")
        seconds = time.monotonic() - started
        assert box.wait_idle(timeout=60), "the bridge did not settle after the file"
    hwm = _status_kb(pid, "VmHWM") if hwm_reset else sampler.peak_kb
    return Measure(
        baseline / 1024, max(hwm, sampler.peak_kb) / 1024, sampler.peak_kb / 1024, seconds
    )


def run_once(inbound_mb: int, outbound_mb: int) -> tuple[Measure, Measure]:
    with tempfile.TemporaryDirectory(prefix="wabridge-bench-") as tmp:
        box = Sandbox(workdir=Path(tmp))
        with box:
            assert box.bridge is not None and box.bridge.pid is not None
            pid = box.bridge.pid
            box.meta.send_text(*CUSTOMER, "I'll send you the video")
            assert box.slack.wait_for(lambda: len(box.slack.messages(CHANNEL)) == 2, timeout=30)
            thread = box.slack.top_level(CHANNEL)[0].ts

            # In: a customer's video, from Meta into the thread.
            video = os.urandom(inbound_mb * MB)
            box.meta.add_media("4400000000000050", video, "video/mp4")
            webhook = box.meta.build_media_webhook(
                from_wa_id=CUSTOMER[0], name=CUSTOMER[1], media_id="4400000000000050", kind="video"
            )
            del video  # the simulator keeps its own copy

            def shared() -> list[dict[str, object]]:
                return [f for m in box.slack.thread(CHANNEL, thread) for f in (m.files or [])]

            def relayed() -> bool:
                files = shared()
                return bool(files) and box.slack.file_content(str(files[0]["id"])) is not None

            inbound = _measure(
                box,
                pid,
                lambda: box.meta.post_webhook(webhook).raise_for_status(),
                relayed,
            )
            [file] = shared()
            assert file["size"] == inbound_mb * MB, file

            # Out: an agent's video, from Slack to Meta.
            clip = os.urandom(outbound_mb * MB)

            def sent() -> bool:
                return any(m.get("type") == "video" for m in box.meta.sent_messages())

            outbound = _measure(
                box,
                pid,
                lambda: box.slack.agent_upload(
                    channel=CHANNEL,
                    thread_ts=thread,
                    filename="unboxing.mp4",
                    content=clip,
                    mimetype="video/mp4",
                ),
                sent,
            )
            [message] = [m for m in box.meta.sent_messages() if m.get("type") == "video"]
            stored = box.meta.get_media(message["video"]["id"])
            assert stored is not None and stored[0] == clip, "Meta got other bytes"
    return inbound, outbound


def _machine() -> str:
    memory = subprocess.run(["free", "-m"], capture_output=True, text=True, check=False).stdout
    total = next((line.split()[1] for line in memory.splitlines() if line.startswith("Mem:")), "?")
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {total} MiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inbound-mb", type=int, default=50)
    parser.add_argument("--outbound-mb", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {_machine()}")
    runs: list[tuple[Measure, Measure]] = []
    for n in range(1, args.runs + 1):
        inbound, outbound = run_once(args.inbound_mb, args.outbound_mb)
        runs.append((inbound, outbound))
        for name, m in (("in", inbound), ("out", outbound)):
            print(
                f"run {n} {name}: baseline {m.baseline_mb:.1f} MiB, peak {m.peak_mb:.1f} MiB "
                f"(sampled {m.sampled_peak_mb:.1f}), delta {m.delta_mb:.1f} MiB, {m.seconds:.1f} s"
            )
    print()
    print("| direction | file | baseline RSS MiB | peak RSS MiB | delta MiB | relay s |")
    print("|---|---|---|---|---|---|")
    rows = (
        ("in", f"customer video, {args.inbound_mb} MiB"),
        ("out", f"agent video, {args.outbound_mb} MiB"),
    )
    for index, (direction, file) in enumerate(rows):
        measures = [run[index] for run in runs]
        cells = [
            [m.baseline_mb for m in measures],
            [m.peak_mb for m in measures],
            [m.delta_mb for m in measures],
            [m.seconds for m in measures],
        ]
        shown = " | ".join(f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})" for v in cells)
        print(f"| {direction} | {file} | {shown} |")


if __name__ == "__main__":
    main()
