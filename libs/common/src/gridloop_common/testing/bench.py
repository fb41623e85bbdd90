"""What every benchmark runs on: a fresh vhost on the broker, and a database (MongoDB if
MONGODB_URL is set, else the stand-in, started here and stopped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import version

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gridloop_common.testing.infrastructure import (
    LOCAL_RABBITMQ,
    VhostAdmin,
    management_url_for,
    url_with_vhost,
)
from gridloop_common.testing.secantus import start_stand_in


@dataclass(frozen=True)
class BenchInfrastructure:
    amqp_url: str
    mongodb_url: str
    # The stand-in's process, whose CPU a benchmark reports; None for an external MongoDB.
    db_pid: int | None
    vhost: str
    database: str  # what the database is, for the printed set-up


@contextmanager
def bench_infrastructure(prefix: str = "gridloop-bench") -> Iterator[BenchInfrastructure]:
    rabbit = os.environ.get("RABBITMQ_URL", LOCAL_RABBITMQ)
    admin = VhostAdmin(management_url_for(rabbit))
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        admin.create(vhost)
        stack.callback(admin.delete, vhost)
        mongodb_url = os.environ.get("MONGODB_URL")
        if mongodb_url:
            yield BenchInfrastructure(
                url_with_vhost(rabbit, vhost), mongodb_url, None, vhost, f"MongoDB at {mongodb_url}"
            )
            return
        stand_in = start_stand_in()
        stack.callback(stand_in.stop)
        yield BenchInfrastructure(
            url_with_vhost(rabbit, vhost),
            stand_in.url,
            stand_in.process.pid,
            vhost,
            f"SecantusDB {version('SecantusDB')} stand-in (one process)",
        )


async def database_commands(http: httpx.AsyncClient, base_url: str) -> Counter[tuple[str, str]]:
    """A service's database commands so far by (command, collection), read from its /metrics
    (`gridloop_db_commands_total`, gridloop_common.metrics.DatabaseCommands)."""
    answer = await http.get(f"{base_url}/metrics")
    answer.raise_for_status()
    counted: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(answer.text):
        if family.name != "gridloop_db_commands":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = (sample.labels["command"], sample.labels["collection"])
                counted[key] += int(sample.value)
    return counted
