"""Loaded at start-up by a Python whose ``PYTHONPATH`` names this directory (``bench/memory.py
--tracemalloc`` gives it to the bridge): when ``WABRIDGE_BENCH_TRACEMALLOC`` names a file,
trace allocations from the start and write a snapshot there on each ``SIGUSR1``."""

from __future__ import annotations

import os
import signal
import tracemalloc
from types import FrameType

_PATH = os.environ.get("WABRIDGE_BENCH_TRACEMALLOC")


def _dump(signum: int, frame: FrameType | None) -> None:
    assert _PATH is not None
    partial = _PATH + ".partial"
    tracemalloc.take_snapshot().dump(partial)
    os.replace(partial, _PATH)  # whole, or not there


if _PATH:
    tracemalloc.start(int(os.environ.get("WABRIDGE_BENCH_TRACEMALLOC_FRAMES", "12")))
    signal.signal(signal.SIGUSR1, _dump)
