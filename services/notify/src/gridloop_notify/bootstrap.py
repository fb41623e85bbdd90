"""Wires notify: one place that builds the runtime, the HTTP client, the channel and handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx

from gridloop_common.clock import Clock
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_notify import repository
from gridloop_notify.channels import Channel, RecordOnlyChannel, WebhookChannel
from gridloop_notify.handlers import ReporterNoticeHandlers
from gridloop_notify.settings import NotifySettings
from gridloop_notify.subscriptions import subscriptions


@dataclass(frozen=True)
class NotifyDeps:
    settings: NotifySettings
    runtime: ServiceRuntime
    deliveries: repository.DeliveryRepository
    channel: Channel

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def reporter_channel(settings: NotifySettings, http: httpx.AsyncClient) -> Channel:
    if not settings.notify_reporter_webhook_url:
        return RecordOnlyChannel()
    return WebhookChannel(
        http, settings.notify_reporter_webhook_url, settings.notify_webhook_timeout_seconds
    )


def build_deps(settings: NotifySettings, clock: Clock | None = None) -> NotifyDeps:
    timeout = settings.notify_webhook_timeout_seconds
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        # The consumer drains first, so in-flight sends finish before the client closes.
        closers=[http.aclose],
    )
    deliveries = repository.DeliveryRepository(runtime.collection(repository.DELIVERIES))
    channel = reporter_channel(settings, http)
    handlers = ReporterNoticeHandlers(
        deliveries=deliveries,
        channel=channel,
        clock=runtime.clock,
        retry_delays_ms=settings.retry_delays_ms,
        lease=timedelta(seconds=2 * timeout + 5),
    )
    runtime.subscriptions = subscriptions(handlers)
    return NotifyDeps(settings=settings, runtime=runtime, deliveries=deliveries, channel=channel)
