"""PyMongo async helpers: one client per process, indexes declared at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

Document = dict[str, Any]
Collection = AsyncCollection[Document]
Database = AsyncDatabase[Document]
Client = AsyncMongoClient[Document]
T = TypeVar("T")

# Values one `$in` list carries. The stand-in compares every candidate with every value of the
# list, so a list costs the square of its length: 100 ids cost 12 ms to find, 1,000 cost 716 ms,
# 2,000 cost 2.8 s (5.9 s to update, 5.3 s to delete; `bench/database/run.py`). scoring's
# recompute spent 58 of its 150 s deleting notes 2,000 at a time. MongoDB's `$in` is a sorted
# set, so the extra commands cost it a round trip each per hundred values.
IN_LIST_LIMIT = 100

__all__ = [
    "Client",
    "Collection",
    "Database",
    "Document",
    "DuplicateKeyError",
    "IndexSpec",
    "PyMongoError",
    "create_client",
    "ensure_indexes",
    "in_chunks",
    "is_unavailable",
    "ping",
]


def create_client(
    url: str,
    *,
    server_selection_timeout_ms: int = 5_000,
    listeners: Sequence[monitoring.CommandListener] = (),
) -> Client:
    # tz_aware: every datetime read back is UTC-aware, matching the Clock's values.
    # journal: a write is acknowledged once it is in the server's journal. Without it a server
    # killed within its journal interval loses writes it had acknowledged — a report answered
    # 202 among them (the fault suite lost a stored reply that way; bench/database prints what
    # waiting for the journal costs).
    return AsyncMongoClient(
        url,
        journal=True,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=server_selection_timeout_ms,
        event_listeners=list(listeners),
    )


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "_".join(f"{key}_{direction}" for key, direction in self.keys)


def in_chunks(values: Iterable[T], size: int = IN_LIST_LIMIT) -> Iterator[list[T]]:
    """The values in lists short enough for one `$in` each (see IN_LIST_LIMIT)."""
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fields_with_values(source: object, names: Iterable[str]) -> Document:
    """The named attributes of `source` that are not None: optional fields are stored only
    when they have a value, so a document says what happened and no more."""
    return {name: value for name in names if (value := getattr(source, name)) is not None}


async def ensure_indexes(database: Database, specs: Iterable[IndexSpec]) -> None:
    for spec in specs:
        await database[spec.collection].create_index(
            list(spec.keys), name=spec.name, unique=spec.unique, **dict(spec.options)
        )


async def ping(client: Client) -> bool:
    try:
        await client.admin.command("ping")
    except PyMongoError:
        return False
    return True


def is_unavailable(error: BaseException) -> bool:
    """The database could not be reached (down, cut off, electing): nothing wrong with the
    work that failed, which succeeds once the server answers again."""
    return isinstance(error, ConnectionFailure)
