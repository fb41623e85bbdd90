"""Prometheus metrics every service exposes; one registry per app so tests can build many apps."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from pymongo import monitoring


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
        self.database_commands = DatabaseCommands(service, self.registry)

    def message_handled(self, message_type: str, outcome: str) -> None:
        self._messages.labels(self._service, message_type, outcome).inc()


class DatabaseCommands(monitoring.CommandListener):
    """Counts every command the service sends to its database, by command and collection.

    The figure that does not depend on the machine's load (bench/README.md): fewer commands per
    message is what makes a service faster on the stand-in and on MongoDB alike. A counter's
    increment per command costs microseconds; the labels are bounded (a service's collections).
    """

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self._commands = Counter(
            "gridloop_db_commands_total",
            "Commands sent to the database, by command name and collection",
            ["service", "command", "collection"],
            registry=registry,
        )
        self._service = service

    def started(self, event: Any) -> None:
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        self._commands.labels(self._service, event.command_name, collection).inc()

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass
