"""Wires notify: runtime, repositories, channels and their gates, workers, handlers."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from prometheus_client import Counter

from gridloop_common.clock import Clock
from gridloop_common.registry import Registry, load_registry
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_notify import repository
from gridloop_notify.channels import (
    Channel,
    ChatGroupChannel,
    EmailChannel,
    HttpPoster,
    SigningSecrets,
    SmsGatewayChannel,
    SmtpSettings,
    WebhookChannel,
)
from gridloop_notify.delivery import RetryPolicy
from gridloop_notify.erasure import ReplyAddressEraser
from gridloop_notify.expansion import Expander, Housekeeping
from gridloop_notify.handlers import NotifyHandlers
from gridloop_notify.notices import Endpoints
from gridloop_notify.ratelimit import ChannelGate
from gridloop_notify.service import NoticeService
from gridloop_notify.settings import NotifySettings
from gridloop_notify.subscriptions import subscriptions
from gridloop_notify.worker import BatchWorker, Completion, DueBatches, NoticeContents, Wakeup

# httpx's pool spends longer choosing a connection the more it holds; pools of two keep it
# quick (measured on loopback, 16 in flight: 8 pools x 2 send 846/s, 4 x 4 727/s, 1 x 16 272/s).
_CONNECTIONS_PER_POOL = 2


@dataclass(frozen=True)
class NotifyDeps:
    settings: NotifySettings
    runtime: ServiceRuntime
    registry: Registry
    notices: repository.NoticeRepository
    batches: repository.BatchRepository
    reporters: repository.ReporterRepository
    subscriptions: repository.SubscriptionRepository
    service: NoticeService
    channels: dict[str, Channel]

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def quiet_http_client_logs() -> None:
    """httpx logs every request with its URL at INFO; a webhook URL may carry a token."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))


def pool_shape(in_flight: int) -> tuple[int, int]:
    """How many httpx pools, of how many connections, carry `in_flight` requests at once."""
    per_pool = min(_CONNECTIONS_PER_POOL, in_flight)
    return math.ceil(in_flight / per_pool), per_pool


def http_pools(settings: NotifySettings) -> list[httpx.AsyncClient]:
    pools, per_pool = pool_shape(settings.notify_max_in_flight)
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    timeout = httpx.Timeout(settings.notify_webhook_timeout_seconds)
    return [
        httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=False)
        for _ in range(pools)
    ]


def build_channels(
    settings: NotifySettings,
    clock: Clock,
    subscriptions_repo: repository.SubscriptionRepository,
) -> tuple[dict[str, Channel], list[Callable[[], Awaitable[None]]]]:
    """The configured channels, and how to close the HTTP pools they share out."""
    closers: list[Callable[[], Awaitable[None]]] = []
    quiet_http_client_logs()

    def poster() -> HttpPoster:
        pools = http_pools(settings)
        closers.extend(pool.aclose for pool in pools)
        return HttpPoster(pools, settings.notify_webhook_timeout_seconds, clock)

    channels: dict[str, Channel] = {
        "webhook": WebhookChannel(
            poster(), SigningSecrets(settings.notify_reporter_webhook_secret, subscriptions_repo)
        )
    }
    if settings.notify_chat_group_webhook_url:
        channels["chat_group"] = ChatGroupChannel(
            poster(),
            settings.notify_chat_group_webhook_url,
            settings.notify_chat_group_webhook_secret,
        )
    if settings.notify_sms_gateway_url:
        channels["sms"] = SmsGatewayChannel(
            poster(), settings.notify_sms_gateway_url, settings.notify_sms_gateway_secret
        )
    if settings.notify_smtp_host:
        channels["email"] = EmailChannel(
            SmtpSettings(
                host=settings.notify_smtp_host,
                port=settings.notify_smtp_port,
                username=settings.notify_smtp_username,
                password=settings.notify_smtp_password,
                security=settings.notify_smtp_security,
                mail_from=settings.notify_mail_from,
                timeout_seconds=settings.notify_webhook_timeout_seconds,
            )
        )
    return channels, closers


def build_deps(settings: NotifySettings, clock: Clock | None = None) -> NotifyDeps:
    runtime = runtime_for(settings, clock, indexes=repository.INDEXES)
    clock = runtime.clock
    registry = load_registry()
    notices = repository.NoticeRepository(runtime.collection(repository.NOTICES))
    batches = repository.BatchRepository(runtime.collection(repository.BATCHES))
    reporters = repository.ReporterRepository(runtime.collection(repository.REPORTERS))
    subscriptions_repo = repository.SubscriptionRepository(
        runtime.collection(repository.SUBSCRIPTIONS)
    )
    channels, http_closers = build_channels(settings, clock, subscriptions_repo)
    gates = {
        name: ChannelGate(settings.notify_rate_limits.get(name, 0.0), settings.notify_max_in_flight)
        for name in channels
    }
    lease = timedelta(seconds=settings.notify_lease_seconds)
    wakeup = Wakeup()
    completion = Completion(notices, batches, clock)
    contents = NoticeContents(notices)
    expander = Expander(
        notices,
        batches,
        registry,
        completion,
        clock,
        wakeup,
        lease,
        contents=contents,
        fault_point=settings.gridloop_fault_point,
    )
    policy = RetryPolicy(
        max_attempts=settings.notify_max_attempts,
        base_seconds=settings.notify_retry_base_seconds,
        max_seconds=settings.notify_retry_max_seconds,
    )
    sends = Counter(
        "gridloop_notify_sends_total",
        "Sends to a channel by outcome: delivered, retry (will be tried again), failed",
        ["channel", "outcome"],
        registry=runtime.metrics.registry,
    )

    def observe(channel: str, outcome: str) -> None:
        sends.labels(channel, outcome).inc()

    feed = DueBatches(
        batches, clock, wakeup, settings.notify_poll_seconds, capacity=settings.notify_workers
    )
    workers = [
        BatchWorker(
            feed=feed,
            batches=batches,
            notices=notices,
            completion=completion,
            channels=channels,
            gates=gates,
            policy=policy,
            clock=clock,
            lease=lease,
            flush_seconds=settings.notify_flush_seconds,
            contents=contents,
            observe=observe,
        )
        for _ in range(settings.notify_workers)
    ]

    housekeeping = Housekeeping(
        notices, expander, completion, clock, lease, settings.notify_poll_seconds
    )
    service = NoticeService(
        notices, subscriptions_repo, expander, clock, settings.notify_batch_size
    )
    endpoints = Endpoints(
        chat_group="chat_group" in channels,
        sms="sms" in channels,
        email="email" in channels,
        reporter_webhook_url=settings.notify_reporter_webhook_url,
    )
    handlers = NotifyHandlers(
        service=service,
        reporters=reporters,
        subscriptions=subscriptions_repo,
        registry=registry,
        endpoints=endpoints,
        feedback_base_url=settings.feedback_base_url,
        reporter_tokens=ReporterTokens(settings.reporter_token_secret),
        configured_channels=settings.configured_channels(),
        clock=clock,
        eraser=ReplyAddressEraser(reporters, notices, batches),
    )
    runtime.subscriptions = subscriptions(handlers)
    runtime.background = [feed.run, *(worker.run for worker in workers), housekeeping.run]
    # Background expansions stop first; the HTTP pools close after everything that sends.
    runtime.closers = [expander.stop, *http_closers]
    return NotifyDeps(
        settings=settings,
        runtime=runtime,
        registry=registry,
        notices=notices,
        batches=batches,
        reporters=reporters,
        subscriptions=subscriptions_repo,
        service=service,
        channels=channels,
    )
