"""Prometheus metrics every service exposes; one registry per app so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self._messages = Counter(
            "gridloop_messages_total",
            "Messages taken from the inbox, by CloudEvent type and outcome",
            ["service", "type", "outcome"],
            registry=self.registry,
        )
        self.outbox_published = Counter(
            "gridloop_outbox_published_total",
            "Outbox entries published with a broker confirm",
            ["service"],
            registry=self.registry,
        ).labels(service)
        self.http_latency = Histogram(
            "gridloop_http_request_seconds",
            "HTTP request latency by route",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self._service = service

    def message_handled(self, message_type: str, outcome: str) -> None:
        self._messages.labels(self._service, message_type, outcome).inc()
