"""Facts in scoring's own database: one document per consumed event, keyed by its event id."""

from __future__ import annotations

from typing import Any

from gridloop_common.mongo import Collection, DuplicateKeyError, IndexSpec
from gridloop_common.periods import Period
from gridloop_scoring.facts import Fact

FACTS = "facts"
INDEXES = [IndexSpec(FACTS, [("department", 1), ("kind", 1)])]


class FactRepository:
    def __init__(self, facts: Collection) -> None:
        self.facts = facts

    async def add(self, fact: Fact) -> bool:
        """Store the fact once; False when this event id was stored before (a redelivery)."""
        try:
            await self.facts.insert_one(fact.to_document())
        except DuplicateKeyError:
            return False
        return True

    async def counts_by_kind(self, department: str, period: Period | None = None) -> dict[str, int]:
        """How many facts of each kind a department has, in one period or in all time."""
        match: dict[str, Any] = {"department": department}
        if period is not None:
            # Facts carry their month/quarter/year keys, so a period is an equality match.
            match[period.granularity] = period.key
        cursor = await self.facts.aggregate(
            [{"$match": match}, {"$group": {"_id": "$kind", "n": {"$sum": 1}}}]
        )
        return {str(row["_id"]): int(row["n"]) async for row in cursor}
