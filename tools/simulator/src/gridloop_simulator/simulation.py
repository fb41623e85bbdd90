"""One run of the city: every role started, the reports sent, the city left to settle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import httpx

from gridloop_common.broker_urls import url_as
from gridloop_common.registry import Registry, load_registry
from gridloop_simulator.center import Center, spread
from gridloop_simulator.city import CityPlanner
from gridloop_simulator.config import SimulationConfig, Targets
from gridloop_simulator.departments import Department, start_departments
from gridloop_simulator.http import ServiceClient
from gridloop_simulator.monitor import Monitor
from gridloop_simulator.record import Record
from gridloop_simulator.reporters import Reporters
from gridloop_simulator.residents import Residents
from gridloop_simulator.sink import Sink, sink_app


@dataclass
class Simulation:
    config: SimulationConfig
    targets: Targets
    registry: Registry = field(default_factory=load_registry)
    record: Record = field(default_factory=Record)

    def __post_init__(self) -> None:
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0))
        seed = self.config.seed
        self.intake = ServiceClient("intake", self.targets.intake, self._http, seed=seed)
        self.dispatch = ServiceClient("dispatch", self.targets.dispatch, self._http, seed=seed)
        self.notify = ServiceClient("notify", self.targets.notify, self._http, seed=seed)
        self.scoring = ServiceClient("scoring", self.targets.scoring, self._http, seed=seed)
        self.plan = CityPlanner(self.registry, self.config).plan()
        self.residents = Residents(
            self.plan,
            self.intake,
            self.record,
            rate=self.config.rate,
            open311_api_key=self.targets.open311_api_key,
            channel_api_keys=self.targets.channel_api_keys,
            seed=seed,
        )
        self.reporters = Reporters(
            self.dispatch, self.record, self.config.reporters, speed=self.config.speed, seed=seed
        )
        self.center = Center(
            dispatch=self.dispatch,
            notify=self.notify,
            operator_key=self.targets.operator_api_key,
            record=self.record,
            shares=self.config.center,
            registry=self.registry,
            seed=seed,
        )
        self.monitor = Monitor(
            self.targets.monitor_rabbitmq_url or self.targets.rabbitmq_url, self.record
        )
        self.sink = Sink(
            sink_app(self.record, self.reporters.completed),
            self.targets.sink_host,
            self.targets.sink_port,
        )
        self.departments: list[Department] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def busy(self) -> int:
        """Stories and verdicts still to come: the city is not done while any is."""
        return sum(d.busy for d in self.departments) + self.reporters.busy

    async def start(self) -> None:
        await self.sink.start()
        await self.monitor.start()
        self.departments = [self._department(code) for code in await self._department_codes()]
        await start_departments(self.departments)
        self._tasks.append(asyncio.create_task(self.center.run()))

    async def run_reports(self) -> None:
        """Send every planned report open loop; notices go out at even moments meanwhile."""
        duration = len(self.plan) / self.config.rate
        notices = [
            asyncio.create_task(self._notice_at(n, at))
            for n, at in enumerate(spread(self.config.broadcasts, duration))
        ]
        if self.config.city_notice:
            notices.append(asyncio.create_task(self._notice_at(-1, duration / 2, city=True)))
        await self.residents.run()
        await asyncio.gather(*notices)

    async def settle(self, *, quiet_seconds: float = 5.0, timeout: float = 600.0) -> bool:
        """Wait until no story is pending and nothing new happened for `quiet_seconds`."""
        deadline = time.monotonic() + timeout
        last = self._activity()
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            now = self._activity()
            if now != last or self.busy:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_seconds:
                return True
        return False

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.reporters.stop()
        for department in self.departments:
            with contextlib.suppress(Exception):
                await department.stop()
        with contextlib.suppress(Exception):
            await self.monitor.stop()
        await self.sink.stop()
        await self._http.aclose()

    async def run(self, *, settle_timeout: float = 600.0) -> Record:
        await self.start()
        try:
            await self.run_reports()
            await self.settle(timeout=settle_timeout)
        finally:
            await self.stop()
        return self.record

    # --- parts ---------------------------------------------------------------------------

    def _activity(self) -> int:
        return sum(self.record.counters.values()) - self.record.counters["center_poll_failures"]

    async def _department_codes(self) -> list[str]:
        answer = await self.dispatch.request("GET", "/v1/departments")
        if answer.response is None or answer.status != 200:
            raise RuntimeError(f"dispatch does not list its departments ({answer.error})")
        return [d["code"] for d in answer.response.json()]

    def _department(self, code: str) -> Department:
        targets = self.targets
        user = f"{targets.department_user_prefix}{code}"
        password = targets.department_password_template.format(code=code)
        secret = targets.department_api_key_template.format(code=code)
        return Department(
            code,
            amqp_url=url_as(targets.rabbitmq_url, user, password),
            api_key=f"{code}.{secret}",
            dispatch=self.dispatch,
            record=self.record,
            shares=self.config.departments,
            seed=self.config.seed,
        )

    async def _notice_at(self, n: int, at: float, *, city: bool = False) -> None:
        await asyncio.sleep(at)
        await self.center.broadcast(n, city=city)
