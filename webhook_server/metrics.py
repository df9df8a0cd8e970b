"""Prometheus metrics of the web process, on a registry of its own (no import-time globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks_received = Counter(
            "wabridge_webhooks_received",
            "WhatsApp webhooks stored (valid signature)",
            registry=self.registry,
        )
        self.webhooks_rejected = Counter(
            "wabridge_webhooks_rejected",
            "WhatsApp webhooks refused",
            ["reason"],
            registry=self.registry,
        )
        self.webhooks_dead = Counter(
            "wabridge_webhooks_dead_lettered",
            "Signed webhooks that could not be parsed, kept as dead letters",
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "wabridge_webhook_seconds",
            "Time to store a webhook and answer",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.inbox_depth = Gauge(
            "wabridge_inbox_depth", "Webhooks waiting to be processed", registry=self.registry
        )
        self.outbox_depth = Gauge(
            "wabridge_outbox_depth", "Slack work waiting to be done", registry=self.registry
        )
