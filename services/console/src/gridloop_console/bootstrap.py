"""Wires the console: runtime, read-model repositories, the projection, live updates, sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gridloop_common.clock import Clock
from gridloop_common.parked_api import ParkedMessages
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_console import repository
from gridloop_console.handlers import ConsoleHandlers
from gridloop_console.live import LiveHub, ReplicaWatcher
from gridloop_console.places import Places
from gridloop_console.service import Projection
from gridloop_console.sessions import Sessions
from gridloop_console.settings import ConsoleSettings
from gridloop_console.subscriptions import subscriptions
from gridloop_console.upstream import Upstream


@dataclass(frozen=True)
class ConsoleDeps:
    settings: ConsoleSettings
    runtime: ServiceRuntime
    projection: Projection
    cases: repository.CaseRepository
    board: repository.OpenOrderBoard
    reports: repository.ReportRepository
    feed: repository.FeedRepository
    hub: LiveHub
    sessions: Sessions
    places: Places
    upstream: Upstream
    notices: repository.NoticeLog
    # The console's own parking queue, read in process (the others through their APIs).
    parked: ParkedMessages

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def build_deps(settings: ConsoleSettings, clock: Clock | None = None) -> ConsoleDeps:
    runtime = runtime_for(settings, clock, indexes=repository.INDEXES)
    cases = repository.CaseRepository(runtime.collection(repository.CASES))
    board = repository.OpenOrderBoard(runtime.collection(repository.BOARD), runtime.clock)
    reports = repository.ReportRepository(runtime.collection(repository.REPORTS))
    feed = repository.FeedRepository(runtime.collection(repository.FEED))
    hub = LiveHub()
    # Names this replica's feed items, so its watcher relays only the other replicas' ones.
    replica = uuid.uuid4().hex[:12]
    projection = Projection(cases, board, reports, feed, hub, runtime.clock, replica)
    runtime.subscriptions = subscriptions(ConsoleHandlers(projection))
    runtime.background = [ReplicaWatcher(hub, feed.projected_elsewhere, replica, runtime.clock).run]
    upstream = Upstream(
        urls={
            "intake": settings.intake_url,
            "dispatch": settings.dispatch_url,
            "sla-monitor": settings.sla_monitor_url,
            "scoring": settings.scoring_url,
            "notify": settings.notify_url,
        },
        operator_key=settings.operator_api_key.get_secret_value(),
        viewer_key=settings.viewer_api_key.get_secret_value(),
    )
    runtime.closers = [upstream.close]
    return ConsoleDeps(
        settings=settings,
        runtime=runtime,
        projection=projection,
        cases=cases,
        board=board,
        reports=reports,
        feed=feed,
        hub=hub,
        sessions=Sessions(
            operator_key=settings.operator_api_key.get_secret_value(),
            viewer_key=settings.viewer_api_key.get_secret_value(),
            max_age_seconds=int(settings.session_hours * 3600),
        ),
        places=Places.of_registry(),
        upstream=upstream,
        notices=repository.NoticeLog(runtime.collection(repository.NOTICES)),
        parked=ParkedMessages(runtime),
    )
