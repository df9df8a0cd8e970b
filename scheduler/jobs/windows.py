"""Window warnings: every ``WABRIDGE_SCAN_INTERVAL``, scan the windows about to close."""

from __future__ import annotations

from datetime import timedelta

from bridge.usecases.warnings import WindowWatch
from scheduler.runner import Task

__all__ = ["window_scan"]


def window_scan(watch: WindowWatch, *, every: timedelta) -> Task:
    return Task(name="window_scan", every=every, run=watch.scan)
