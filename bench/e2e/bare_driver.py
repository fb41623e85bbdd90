"""Runs the bare pipeline (bare.py) beside the whole loop and plays its residents and departments.

Its processes share the loop's virtual host (their names start with `bare.`) and database
server (a database of their own), so both pipelines meet the same broker and the same database.
A step posts `rate x seconds` reports open loop, each department reads its queue and replies at
once (one confirmed publish per order), and the step ends when every accepted report's reply is
stored, or after a timeout.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractRobustConnection

from gridloop_common.catalogue import CATEGORIES, DEPARTMENTS
from gridloop_common.mongo import create_client
from gridloop_common.registry import load_registry
from gridloop_common.testing.bench import database_commands
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bare  # type: ignore[import-not-found]  # noqa: E402  (beside this script)
from steps import Step, drain, watch_backlog  # type: ignore[import-not-found]  # noqa: E402

STAGES = ("intake", "dispatch", "replies")


def is_inbox(queue: str) -> bool:
    return queue in (bare.DISPATCH_INBOX, bare.REPLIES_INBOX)


SETTLE_TIMEOUT_SECONDS = 120.0


@dataclass
class Stage:
    name: str
    process: subprocess.Popen[bytes]
    metrics_url: str


class BarePipeline:
    def __init__(self, rabbitmq_url: str, mongodb_url: str, database: str, work_dir: Path) -> None:
        self._rabbitmq_url = rabbitmq_url
        self._mongodb_url = mongodb_url
        self._database = database
        self._work_dir = work_dir
        self._stages: dict[str, Stage] = {}
        self._intake_url = ""
        self._connection: AbstractRobustConnection | None = None
        self._arrived: dict[str, float] = {}
        points = [g.polygon.representative_point() for g in load_registry().grids[:500]]
        self._points = [(p.y, p.x) for p in points]
        self._categories = [c.code for c in CATEGORIES]

    async def start(self) -> None:
        """Declare the topology, start the three stages, and read the departments' queues."""
        self._connection = await aio_pika.connect_robust(self._rabbitmq_url)
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        departments = [d.code for d in DEPARTMENTS]
        await bare.declare(channel, departments)
        replies = await channel.get_exchange(bare.REPLIES)
        listening = await self._connection.channel()
        await listening.set_qos(prefetch_count=256)
        for code in departments:
            queue = await listening.get_queue(bare.department_queue(code))
            await queue.consume(functools.partial(self._reply, code=code, replies=replies))
        http_port = free_port()
        self._intake_url = f"http://127.0.0.1:{http_port}"
        for name in STAGES:
            self._stages[name] = self._launch(name, http_port)
        await self._wait_ready()

    def _launch(self, name: str, http_port: int) -> Stage:
        metrics_port = free_port()
        env = {
            **os.environ,
            "RABBITMQ_URL": self._rabbitmq_url,
            "MONGODB_URL": self._mongodb_url,
            "MONGODB_DATABASE": self._database,
            "METRICS_PORT": str(metrics_port),
            "HTTP_PORT": str(http_port),
            "PREFETCH": "64",  # the services' default
        }
        log = (self._work_dir / f"bare-{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(HERE / "bare.py"), name], env=env, stdout=log, stderr=log
        )
        return Stage(name, process, f"http://127.0.0.1:{metrics_port}")

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            for stage in self._stages.values():
                while True:
                    if stage.process.poll() is not None:
                        raise RuntimeError(f"bare {stage.name} exited; see bare-{stage.name}.log")
                    try:
                        (await http.get(stage.metrics_url)).raise_for_status()
                        if stage.name == "intake":
                            await http.get(f"{self._intake_url}/docs")
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.2)

    async def _reply(
        self, message: AbstractIncomingMessage, code: str, replies: AbstractExchange
    ) -> None:
        report_id = json.loads(message.body)["data"]["report_id"]
        self._arrived.setdefault(report_id, time.time())
        reply = {"data": {"report_id": report_id, "department": code, "status": "completed"}}
        await replies.publish(
            bare.persistent(reply, f"{report_id}:complete"),
            routing_key=f"{code}.complete",
            mandatory=True,
        )
        await message.ack()

    def _report(self, n: int) -> dict[str, Any]:
        lat, lon = self._points[n % len(self._points)]
        return {
            "category_code": self._categories[(n * 7) % len(self._categories)],
            "description": f"路面坑洼,车辆经过颠簸 #{n}",
            "location": {"lat": lat, "lon": lon},
            "contact": {"name": "王女士", "phone": "13800138000"},
        }

    async def run_step(
        self, rate: float, seconds: float, depths: Callable[[], dict[str, int]], offset: int
    ) -> Step:
        """One step at `rate`; `depths` gives every queue's depth (the management API)."""
        reports = max(1, round(rate * seconds))
        step = Step(rate, reports)
        before = await self._commands()
        cpu_before = {name: cpu_seconds(s.process.pid) for name, s in self._stages.items()}
        sent: dict[str, float] = {}
        started = time.perf_counter()
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:

            async def post(n: int) -> None:
                at = time.time()
                try:
                    answer = await http.post(
                        f"{self._intake_url}/v1/reports", json=self._report(offset + n)
                    )
                except httpx.HTTPError:
                    step.failed += 1
                    return
                if answer.status_code != 202:
                    step.failed += 1
                    return
                sent[answer.json()["report_id"]] = at

            begun = time.monotonic()
            posts = []
            async with watch_backlog(step, depths, is_inbox):
                for n in range(reports):  # open loop: each at its moment, answered or not
                    pause = begun + n / rate - time.monotonic()
                    if pause > 0:
                        await asyncio.sleep(pause)
                    posts.append(asyncio.create_task(post(n)))
                await asyncio.gather(*posts)
        step.seconds = time.perf_counter() - started
        await drain(step, depths, is_inbox)
        stored = await self._stored(list(sent))
        step.wall = time.perf_counter() - started
        step.accepted = len(sent)
        for report_id, at in sent.items():
            if report_id in self._arrived:
                step.to_order.append(self._arrived[report_id] - at)
            if report_id in stored:
                step.to_close.append(stored[report_id] - at)
        after = await self._commands()
        for name in STAGES:
            counted = after[name]
            counted.subtract(before[name])
            step.commands[name] = +counted
        step.cpu = {
            name: cpu_seconds(s.process.pid) - cpu_before[name] for name, s in self._stages.items()
        }
        return step

    async def _stored(self, report_ids: list[str]) -> dict[str, float]:
        """When each report's reply was stored, waiting until all are (or the timeout)."""
        client = create_client(self._mongodb_url)
        replies = client[self._database]["replies"]
        stored: dict[str, float] = {}
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        try:
            while len(stored) < len(report_ids) and time.monotonic() < deadline:
                missing = [r for r in report_ids if r not in stored]
                for start in range(0, len(missing), 500):
                    found = replies.find(
                        {"_id": {"$in": missing[start : start + 500]}}, {"stored_at": 1}
                    )
                    async for document in found:
                        stored[document["_id"]] = document["stored_at"]
                if len(stored) < len(report_ids):
                    await asyncio.sleep(0.5)
        finally:
            await client.close()
        return stored

    async def _commands(self) -> dict[str, Counter[tuple[str, str]]]:
        async with httpx.AsyncClient(timeout=10) as http:
            return {
                name: await database_commands(http, stage.metrics_url)
                for name, stage in self._stages.items()
            }

    def pids(self) -> dict[str, int]:
        return {name: stage.process.pid for name, stage in self._stages.items()}

    async def stop(self) -> None:
        for stage in self._stages.values():
            stage.process.terminate()
        for stage in self._stages.values():
            try:
                stage.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stage.process.kill()
        if self._connection is not None:
            await self._connection.close()
