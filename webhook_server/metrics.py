"""Prometheus metrics, on a registry of their own (no import-time globals).

Queue depths, failures and pauses are read from the database at each scrape, so they are
the same whichever process answers and whichever process did the work.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Metrics", "StoredCounter", "StoredCounters"]


class StoredCounter(Collector):
    """A counter whose total lives in the database (every process adds to it): the scrape
    sets the total it read, and Prometheus sees an ordinary ``_total`` counter."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._value = 0
        registry.register(self)

    def set(self, value: int) -> None:
        self._value = value

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, value=self._value)


class StoredCounters(Collector):
    """Like ``StoredCounter``, one total per value of a label (``kind="jobs"``...)."""

    def __init__(
        self, name: str, documentation: str, label: str, registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._label = label
        self._values: dict[str, int] = {}
        registry.register(self)

    def set(self, values: dict[str, int]) -> None:
        self._values = dict(values)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, total in sorted(self._values.items()):
            family.add_metric([value], total)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.webhooks_received = Counter(
            "wabridge_webhooks_received",
            "WhatsApp webhooks stored (valid signature)",
            registry=registry,
        )
        self.webhooks_rejected = Counter(
            "wabridge_webhooks_rejected", "WhatsApp webhooks refused", ["reason"], registry=registry
        )
        self.webhooks_dead = Counter(
            "wabridge_webhooks_dead_lettered",
            "Signed webhooks that could not be parsed, kept as dead letters",
            registry=registry,
        )
        self.webhook_seconds = Histogram(
            "wabridge_webhook_seconds",
            "Time to store a webhook and answer",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )
        self.inbox_depth = Gauge(
            "wabridge_inbox_depth", "Webhooks waiting to be processed", registry=registry
        )
        self.outbox_depth = Gauge(
            "wabridge_outbox_depth", "Jobs not finished yet (pending)", registry=registry
        )
        self.jobs = Gauge(
            "wabridge_jobs",
            "Pending jobs by where they stand: due now, running, or waiting for a retry",
            ["state"],
            registry=registry,
        )
        self.failed = Gauge(
            "wabridge_failed",
            "Jobs that ended failed and dead webhooks, by kind and reason (replayable)",
            ["kind", "reason"],
            registry=registry,
        )
        self.paused = Gauge(
            "wabridge_lane_paused",
            "1 while an adapter's work is paused on refused credentials",
            ["lane"],
            registry=registry,
        )
        self.statuses_unknown = StoredCounter(
            "wabridge_statuses_unknown",
            "Delivery statuses for messages this bridge never sent (logged, then ignored)",
            registry,
        )
        self.purged = StoredCounters(
            "wabridge_purged",
            "Rows of bookkeeping purged after WABRIDGE_RETENTION, by kind",
            "kind",
            registry,
        )
        self.listeners_running = Gauge(
            "wabridge_slack_listeners_running",
            "Slack listeners running in this process",
            registry=registry,
        )
