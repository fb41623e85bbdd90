"""Chooses real infrastructure for tests and `make up`, never a mock.

In the order of docs/architecture.md, "Running and testing":
1. `RABBITMQ_URL` / `MONGODB_URL` from the environment;
2. testcontainers, when a Docker engine answers;
3. local servers: the RabbitMQ on 127.0.0.1:5672 and the MongoDB-wire stand-in, started here.
Nothing available → RuntimeError naming what is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from gridloop_common.testing.secantus import start_stand_in

LOCAL_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True)
class Infrastructure:
    rabbitmq_url: str
    mongodb_url: str
    management_url: str
    how: str  # a sentence for the test report header


def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]  # noqa: PLC0415  (testcontainers' dep)

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def management_url_for(amqp_url: str) -> str:
    explicit = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    if explicit:
        return explicit.rstrip("/")
    parts = urlsplit(amqp_url)
    user = quote(parts.username or "guest", safe="")
    password = quote(parts.password or "guest", safe="")
    return f"http://{user}:{password}@{parts.hostname or '127.0.0.1'}:15672"


@contextlib.contextmanager
def provide_infrastructure() -> Iterator[Infrastructure]:
    env_rabbit = os.environ.get("RABBITMQ_URL")
    env_mongo = os.environ.get("MONGODB_URL")
    with contextlib.ExitStack() as stack:
        rabbit, mongo, how = env_rabbit, env_mongo, []
        if env_rabbit:
            how.append("RabbitMQ from RABBITMQ_URL")
        if env_mongo:
            how.append("MongoDB from MONGODB_URL")
        if (rabbit is None or mongo is None) and _docker_answers():
            from testcontainers.mongodb import MongoDbContainer  # noqa: PLC0415
            from testcontainers.rabbitmq import RabbitMqContainer  # noqa: PLC0415

            if rabbit is None:
                container = stack.enter_context(RabbitMqContainer("rabbitmq:4-management"))
                host = container.get_container_host_ip()
                port = container.get_exposed_port(5672)
                rabbit = f"amqp://guest:guest@{host}:{port}/"
                os.environ.setdefault(
                    "RABBITMQ_MANAGEMENT_URL",
                    f"http://guest:guest@{host}:{container.get_exposed_port(15672)}",
                )
                how.append("RabbitMQ in a container")
            if mongo is None:
                mongo_container = stack.enter_context(MongoDbContainer("mongo:8"))
                mongo = mongo_container.get_connection_url() + "/?retryWrites=false"
                how.append("MongoDB in a container")
        if rabbit is None:
            if not _listening("127.0.0.1", 5672):
                raise RuntimeError(
                    "no RabbitMQ: RABBITMQ_URL is unset, no Docker engine answers, and nothing "
                    "listens on 127.0.0.1:5672 (start it with `rabbitmq-server -detached`)"
                )
            rabbit = LOCAL_RABBITMQ
            how.append("local RabbitMQ on 127.0.0.1:5672")
        if mongo is None:
            stand_in = start_stand_in()
            stack.callback(stand_in.stop)
            mongo = stand_in.url
            how.append(f"MongoDB-wire stand-in (SecantusDB) at {stand_in.url}")
        yield Infrastructure(rabbit, mongo, management_url_for(rabbit), "; ".join(how))


def url_with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


class VhostAdmin:
    """Creates and deletes virtual hosts: the management API, else `rabbitmqctl` on this host."""

    def __init__(self, management_url: str) -> None:
        parts = urlsplit(management_url)
        self._base = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port or 15672}"))
        self._auth = (parts.username or "guest", parts.password or "guest")

    def _api(self) -> httpx.Client:
        return httpx.Client(base_url=self._base, auth=self._auth, timeout=10)

    def _management_answers(self) -> bool:
        try:
            with self._api() as api:
                return api.get("/api/overview").status_code == 200
        except httpx.HTTPError:
            return False

    def create(self, vhost: str, user: str = "guest") -> None:
        if self._management_answers():
            with self._api() as api:
                name = quote(vhost, safe="")
                api.put(f"/api/vhosts/{name}").raise_for_status()
                api.put(
                    f"/api/permissions/{name}/{quote(user, safe='')}",
                    json={"configure": ".*", "write": ".*", "read": ".*"},
                ).raise_for_status()
            return
        ctl = shutil.which("rabbitmqctl")
        if ctl is None:
            raise RuntimeError(
                f"cannot create a RabbitMQ vhost: the management API at {self._base} does not "
                "answer (enable it: `rabbitmq-plugins enable rabbitmq_management`) and "
                "rabbitmqctl is not installed"
            )
        subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, capture_output=True)
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )

    def delete(self, vhost: str) -> None:
        if self._management_answers():
            with self._api() as api:
                api.delete(f"/api/vhosts/{quote(vhost, safe='')}")
            return
        ctl = shutil.which("rabbitmqctl")
        if ctl is not None:
            subprocess.run([ctl, "-q", "delete_vhost", vhost], check=False, capture_output=True)
