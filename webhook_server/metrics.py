"""Prometheus metrics, on a registry of their own (no import-time globals).

Queue depths, lags, failures, pauses and the stored counters are read from the database at
each scrape, so they are the same whichever process answers and whichever process did the
work. Calls to Slack and Meta and relay latencies are counted in the process that made them
(``Metrics`` is the ``CallObserver`` and ``RelayObserver`` the adapters and workers report to).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from bridge.ports import Api

__all__ = ["RELAY_BUCKETS", "Metrics", "StoredCounter", "StoredCounters"]

#: Relay latency buckets, seconds: from an unpaced relay (a few ms) to a minute of backlog.
RELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


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
        self.inbox_lag = Gauge(
            "wabridge_inbox_lag_seconds",
            "Age of the oldest webhook waiting to be processed (0 when none waits)",
            registry=registry,
        )
        self.lane_depth = Gauge(
            "wabridge_outbox_lane_depth",
            "Jobs not finished yet (pending), by lane",
            ["lane"],
            registry=registry,
        )
        self.oldest_due = Gauge(
            "wabridge_outbox_oldest_due_seconds",
            "How long the longest-waiting job that is due now has been due, by lane (0: none)",
            ["lane"],
            registry=registry,
        )
        self.warnings_posted = StoredCounter(
            "wabridge_warnings_posted",
            "Window warnings posted in conversation threads",
            registry,
        )
        self.replies_window_closed = StoredCounter(
            "wabridge_replies_window_closed",
            "Agents' messages not sent because the 24-hour window was closed",
            registry,
        )
        self.slack_calls = Counter(
            "wabridge_slack_calls",
            "Slack Web API calls made by this process, by method and outcome (ok or the error)",
            ["method", "outcome"],
            registry=registry,
        )
        self.meta_calls = Counter(
            "wabridge_meta_calls",
            "Graph API requests made by this process, by method and outcome (ok, Meta's "
            "error code, http_NNN or connection)",
            ["method", "outcome"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "wabridge_rate_limited",
            "Calls refused for rate (HTTP 429, Meta's throughput errors), by API",
            ["api"],
            registry=registry,
        )
        for api in Api:
            self.rate_limited.labels(api.value)  # shown as 0 before the first
        self.relay_inbound = Histogram(
            "wabridge_relay_inbound_seconds",
            "Webhook stored -> its customer message posted in Slack",
            buckets=RELAY_BUCKETS,
            registry=registry,
        )
        self.relay_outbound = Histogram(
            "wabridge_relay_outbound_seconds",
            "Agent's reply posted in Slack (its ts) -> Meta accepted the send",
            buckets=RELAY_BUCKETS,
            registry=registry,
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

    # --- bridge.ports.CallObserver and RelayObserver ---------------------------------------

    def api_call(self, *, api: Api, method: str, outcome: str, rate_limited: bool) -> None:
        calls = self.slack_calls if api == Api.SLACK else self.meta_calls
        calls.labels(method, outcome).inc()
        if rate_limited:
            self.rate_limited.labels(api.value).inc()

    def relayed_inbound(self, seconds: float) -> None:
        self.relay_inbound.observe(seconds)

    def relayed_outbound(self, seconds: float) -> None:
        self.relay_outbound.observe(seconds)

    def webhook_dead_lettered(self) -> None:
        self.webhooks_dead.inc()
