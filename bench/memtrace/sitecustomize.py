"""Loaded at start-up by a Python whose ``PYTHONPATH`` names this directory (``bench/memory.py
--tracemalloc`` gives it to the bridge): when ``WABRIDGE_BENCH_TRACEMALLOC`` names a file,
each ``SIGUSR1`` writes a tracemalloc snapshot there, the first one starting the trace.
(Tracing from start-up would make the imports take a minute.)"""

from __future__ import annotations

import os
import signal
import tracemalloc
from types import FrameType

_PATH = os.environ.get("WABRIDGE_BENCH_TRACEMALLOC")


def _dump(signum: int, frame: FrameType | None) -> None:
    assert _PATH is not None
    if not tracemalloc.is_tracing():
        tracemalloc.start(int(os.environ.get("WABRIDGE_BENCH_TRACEMALLOC_FRAMES", "8")))
    partial = _PATH + ".partial"
    tracemalloc.take_snapshot().dump(partial)
    os.replace(partial, _PATH)  # whole, or not there


if _PATH:
    signal.signal(signal.SIGUSR1, _dump)
