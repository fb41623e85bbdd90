"""The whole system as `make up` runs it, on a virtual host and databases of its own, with
handles to strike each part: every service replica, the broker, the database, the network.

Infrastructure is taken as the test harness takes it (RABBITMQ_URL / MONGODB_URL, else the
local broker and a stand-in started here). What cannot be struck is said, not faked: a broker
that is not this machine's cannot be restarted, a database server given by URL not killed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import httpx
from pymongo import MongoClient

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEY_ENV
from gridloop_common.broker_urls import url_as
from gridloop_common.messaging.parked import ParkedMessage, peek
from gridloop_common.services import service_url_variable
from gridloop_common.testing.infrastructure import (
    LOCAL_RABBITMQ,
    VhostAdmin,
    management_url_for,
    url_with_vhost,
)
from gridloop_common.testing.processes import SERVICES
from gridloop_common.testing.secantus import StandInMongo, free_port, start_stand_in
from gridloop_common.testing.supervisor import Program, Supervisor, python_module
from gridloop_common.testing.tcp_proxy import TcpProxy
from gridloop_simulator.config import Targets

Say = Callable[[str], None]
OPERATOR_KEY = "chaos-operator-key"
OPEN311_KEY = "chaos-open311-key"
MONITOR_NAME = "simulator"  # its queue: monitor.simulator.sla
PASSWORD_TEMPLATE = "chaos-{code}"  # noqa: S105 (a throw-away run's department passwords)
API_KEY_TEMPLATE = "chaos-key-{code}"


@dataclass(frozen=True)
class SystemOptions:
    work_dir: Path
    replicas: int = 2
    # Settings every service replica gets (windows, retries, delivery limit, sink URLs...).
    env: Mapping[str, str] = field(default_factory=dict)
    # Replicas whose broker ("broker") or database ("database") connection runs through a
    # proxy that a network-cut fault can break, e.g. ("dispatch-1", "broker").
    proxied: tuple[tuple[str, str], ...] = ()


class ProxyThread:
    """Loopback proxies on an event loop of their own, so the simulator's load cannot stall
    them and a cut is exactly as long as asked."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxies: dict[tuple[str, str], TcpProxy] = {}

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=30)

    def add(self, key: tuple[str, str], host: str, port: int) -> int:
        proxy = TcpProxy(free_port(), host, port)
        self._call(proxy.start())
        self.proxies[key] = proxy
        return proxy.listen_port

    def cut(self, key: tuple[str, str]) -> None:
        """Close the listening socket and every open connection through it."""
        self._call(self.proxies[key].stop())

    def restore(self, key: tuple[str, str]) -> None:
        self._call(self.proxies[key].start())

    def close(self) -> None:
        for proxy in self.proxies.values():
            self._call(proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@dataclass
class CitySystem:
    options: SystemOptions
    say: Say
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    rabbitmq_url: str = ""
    management_url: str = ""
    mongodb_url: str = ""
    stand_in: StandInMongo | None = None
    supervisor: Supervisor = field(init=False)
    ports: dict[str, int] = field(default_factory=dict)
    proxies: ProxyThread = field(default_factory=ProxyThread)
    _mongo_data: Path | None = None
    _mongo_port: int = 0

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.say)

    # --- names ---------------------------------------------------------------------------

    @property
    def vhost(self) -> str:
        return f"gridloop-chaos-{self.token}"

    @property
    def prefix(self) -> str:
        return f"c{self.token}"

    @property
    def department_user_prefix(self) -> str:
        return f"{self.prefix}-"

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service.replace('-', '_')}"

    def replicas_of(self, service: str) -> list[str]:
        return [f"{service}-{n}" for n in range(1, self.options.replicas + 1)]

    @property
    def monitor_rabbitmq_url(self) -> str:
        """The simulator's monitor account (provisioned with the departments)."""
        user = f"{self.department_user_prefix}monitor-{MONITOR_NAME}"
        return url_as(self.rabbitmq_url, user, PASSWORD_TEMPLATE.format(code=MONITOR_NAME))

    def urls(self, service: str) -> tuple[str, ...]:
        return tuple(f"http://127.0.0.1:{self.ports[p]}" for p in self.replicas_of(service))

    def simulator_targets(self, sink_port: int) -> Targets:
        """Where the city simulator finds this system, and the credentials its people hold."""
        return Targets(
            intake=self.urls("intake"),
            dispatch=self.urls("dispatch"),
            scoring=self.urls("scoring"),
            notify=self.urls("notify"),
            rabbitmq_url=self.rabbitmq_url,
            monitor_rabbitmq_url=self.monitor_rabbitmq_url,
            department_user_prefix=self.department_user_prefix,
            department_password_template=PASSWORD_TEMPLATE,
            department_api_key_template=API_KEY_TEMPLATE,
            operator_api_key=OPERATOR_KEY,
            open311_api_key=OPEN311_KEY,
            sink_port=sink_port,
        )

    @property
    def broker_restartable(self) -> bool:
        return "RABBITMQ_URL" not in os.environ and shutil.which("rabbitmqctl") is not None

    @property
    def database_killable(self) -> bool:
        return self.stand_in is not None

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        base_rabbit = os.environ.get("RABBITMQ_URL", LOCAL_RABBITMQ)
        self.management_url = management_url_for(base_rabbit)
        VhostAdmin(self.management_url).create(self.vhost)
        self.rabbitmq_url = url_with_vhost(base_rabbit, self.vhost)
        if "MONGODB_URL" in os.environ:
            self.mongodb_url = os.environ["MONGODB_URL"]
        else:
            self._mongo_data = self.options.work_dir / "mongo"
            self._mongo_port = free_port()
            self.stand_in = start_stand_in(data_dir=self._mongo_data, port=self._mongo_port)
            self.mongodb_url = self.stand_in.url
        self.say(f"vhost {self.vhost}, databases {self.prefix}_*, MongoDB at {self.mongodb_url}")
        self._provision_departments()
        self.ports = {name: free_port() for s in SERVICES for name in self.replicas_of(s)}
        for service, (module, _) in SERVICES.items():
            for name in self.replicas_of(service):
                self.supervisor.add(
                    Program(
                        name,
                        python_module(module),
                        self._env(service, name),
                        log_path=self.options.work_dir / f"{name}.log",
                    )
                )
                self.supervisor.start(name)
        self.wait_ready(self.supervisor.programs, timeout=120, supervise=True)

    def stop(self) -> None:
        self.supervisor.stop_all(timeout=30)
        self.proxies.close()
        VhostAdmin(self.management_url).delete(self.vhost)
        self._delete_department_users()
        try:
            client: MongoClient[dict[str, Any]]
            with MongoClient(self.mongodb_url, serverSelectionTimeoutMS=3_000) as client:
                for name in client.list_database_names():
                    if name.startswith(self.prefix):
                        client.drop_database(name)
        except Exception as error:
            self.say(f"could not drop the run's databases: {error}")
        if self.stand_in is not None:
            self.stand_in.stop()

    def wait_ready(
        self, names: Iterable[str], *, timeout: float = 60.0, supervise: bool = False
    ) -> float:
        """Seconds until every named replica answers /readyz with 200 (`supervise`: poll the
        supervisor meanwhile, when no other task does)."""
        started = time.monotonic()
        waiting = set(names)
        with httpx.Client(timeout=1.0) as client:
            while waiting:
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"not ready after {timeout:.0f} s: {sorted(waiting)}")
                if supervise:
                    self.supervisor.poll()
                for name in sorted(waiting):
                    try:
                        ok = client.get(f"http://127.0.0.1:{self.ports[name]}/readyz")
                    except httpx.HTTPError:
                        continue
                    if ok.status_code == 200:
                        waiting.discard(name)
                time.sleep(0.2)
        return time.monotonic() - started

    # --- striking ------------------------------------------------------------------------

    def restart_broker(self, down_for: float) -> None:
        ctl = shutil.which("rabbitmqctl")
        assert ctl is not None
        subprocess.run([ctl, "-q", "stop_app"], check=True, capture_output=True)
        time.sleep(down_for)
        subprocess.run([ctl, "-q", "start_app"], check=True, capture_output=True)
        subprocess.run([ctl, "-q", "await_startup"], check=True, capture_output=True)

    def kill_database(self) -> None:
        assert self.stand_in is not None
        self.stand_in.process.kill()
        self.stand_in.process.wait()

    def start_database(self) -> None:
        assert self._mongo_data is not None
        self.stand_in = start_stand_in(data_dir=self._mongo_data, port=self._mongo_port)

    # --- inspection ----------------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        """Ready + unacknowledged messages of every queue of the run's virtual host."""
        with self.management() as api:
            answer = api.get(f"/api/queues/{quote(self.vhost, safe='')}")
            answer.raise_for_status()
            return {q["name"]: int(q.get("messages", 0) or 0) for q in answer.json()}

    def acknowledged(self, queues: list[str]) -> dict[str, int]:
        """How many messages each queue's consumers have acknowledged so far (the management
        API's counters, a few seconds behind); empty while the broker does not answer."""
        counts: dict[str, int] = {}
        try:
            with self.management() as api:
                for name in queues:
                    answer = api.get(
                        f"/api/queues/{quote(self.vhost, safe='')}/{quote(name, safe='')}"
                    )
                    answer.raise_for_status()
                    counts[name] = int(answer.json().get("message_stats", {}).get("ack", 0) or 0)
        except httpx.HTTPError:
            return {}
        return counts

    async def parked(self, service: str) -> list[ParkedMessage]:
        """The service's parked messages, left where they are."""
        connection = await aio_pika.connect(self.rabbitmq_url)
        async with connection:
            return await peek(await connection.channel(), service)

    def management(self) -> httpx.Client:
        """A client of the broker's management API (credentials from its URL)."""
        parts = urlsplit(self.management_url)
        base = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port or 15672}"))
        auth = (parts.username or "guest", parts.password or "guest")
        return httpx.Client(base_url=base, auth=auth, timeout=10)

    def log_tail(self, name: str, chars: int = 4_000) -> str:
        path = self.options.work_dir / f"{name}.log"
        try:
            return path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    # --- parts ---------------------------------------------------------------------------

    def service_rabbitmq_url(self, service: str) -> str:
        """The service's own least-privilege broker user (provisioned with the departments)."""
        user = f"{self.department_user_prefix}gridloop-{service}"
        return url_as(self.rabbitmq_url, user, PASSWORD_TEMPLATE.format(code=service))

    def _env(self, service: str, name: str) -> dict[str, str]:
        rabbit, mongo = self.service_rabbitmq_url(service), self.mongodb_url
        if (name, "broker") in self.options.proxied:
            rabbit = _through(rabbit, self.proxies, (name, "broker"))
        if (name, "database") in self.options.proxied:
            mongo = _through(mongo, self.proxies, (name, "database"))
        return {
            **os.environ,
            "LOG_FORMAT": "json",
            "OPERATOR_API_KEY": OPERATOR_KEY,
            "GRIDLOOP_OPEN311_API_KEYS": OPEN311_KEY,
            # The simulator is the city's own client: no rate limit for its key.
            "INTAKE_RATE_LIMIT_EXEMPT_KEYS": OPEN311_KEY,
            **DEVELOPMENT_CHANNEL_KEY_ENV,
            "DEPARTMENT_USER_PREFIX": self.department_user_prefix,
            # Where the others are (the console calls scoring's and notify's APIs): replica 1.
            **{service_url_variable(other): self.urls(other)[0] for other in SERVICES},
            **self.options.env,
            "RABBITMQ_URL": rabbit,
            "MONGODB_URL": mongo,
            "MONGODB_DATABASE": self.database(service),
            "HTTP_PORT": str(self.ports[name]),
        }

    def _provision_departments(self) -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gridloop_dispatch",
                "provision-departments",
                "--user-prefix",
                self.department_user_prefix,
                "--password-template",
                PASSWORD_TEMPLATE,
                "--api-key-template",
                API_KEY_TEMPLATE,
                # The simulator's monitor hears the breaches with a monitor's own account.
                "--monitors",
                MONITOR_NAME,
                "--monitor-password-template",
                PASSWORD_TEMPLATE,
                # Every service runs as its own broker user, as compose and make up run them.
                "--services",
                "all",
                "--service-password-template",
                PASSWORD_TEMPLATE,
            ],
            env={
                **os.environ,
                "RABBITMQ_URL": self.rabbitmq_url,
                "RABBITMQ_MANAGEMENT_URL": self.management_url,
                "MONGODB_URL": self.mongodb_url,
                "MONGODB_DATABASE": self.database("dispatch"),
                "LOG_FORMAT": "json",
            },
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"provisioning the departments failed:\n{done.stderr[-3000:]}")

    def _delete_department_users(self) -> None:
        with self.management() as api:
            users = api.get("/api/users").json()
            for user in users:
                if user["name"].startswith(self.department_user_prefix):
                    api.delete(f"/api/users/{quote(user['name'], safe='')}")


def _through(url: str, proxies: ProxyThread, key: tuple[str, str]) -> str:
    """The same URL with host and port replaced by a new proxy's."""
    parts = urlsplit(url)
    port = proxies.add(key, parts.hostname or "127.0.0.1", parts.port or _default_port(url))
    credentials, _, _ = parts.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _default_port(url: str) -> int:
    return 27017 if url.startswith("mongodb") else 5672


def temporary_work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="gridloop-chaos-"))
