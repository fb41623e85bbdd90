"""dispatch's database: cases (orders, history, outbox embedded), routing rules, API key hashes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridloop_common.batched_inserts import BatchedInserts
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, IndexSpec
from gridloop_common.outbox import RelayNow, outbox_fields, with_outbox
from gridloop_dispatch.lifecycle import Change
from gridloop_dispatch.model import Case, case_document, case_from_document
from gridloop_dispatch.routing import RoutingRule

CASES = "cases"
ROUTING_RULES = "routing_rules"
DEPARTMENT_KEYS = "department_keys"
# Every index is maintained on every write of a case (several per case), so only the reply
# lookup and the center's main lists have one; township, grid and flag filters narrow those.
INDEXES = [
    IndexSpec(CASES, [("orders.order_id", 1)]),
    IndexSpec(CASES, [("status", 1), ("opened_at", -1)]),
    IndexSpec(CASES, [("departments", 1), ("opened_at", -1)]),
    IndexSpec(CASES, [("next_deadline", 1)]),
]
# Bookkeeping a reader of a case does not need.
_INTERNAL = {
    "outbox": 0,
    "applied": 0,
    "refused": 0,
    "requests": 0,
    "outbox_pending": 0,
    "outbox_at": 0,
}
_INTERNAL_FIELDS = ("outbox_lease", "outbox_lease_holder")


@dataclass(frozen=True)
class StoredCase:
    case: Case
    # Message/request ids already applied (or refused with a record): a repeat changes nothing.
    applied: frozenset[str]
    refused: frozenset[str]
    # Request id → fingerprint of the HTTP request that carried it (see `same_request`).
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    def same_request(self, cause_id: str, fingerprint: str | None) -> bool:
        """False when this id was stored for a request with another fingerprint: a client
        reusing its Idempotency-Key for a different request."""
        stored = self.fingerprints.get(cause_id)
        return stored is None or fingerprint is None or stored == fingerprint


@dataclass(frozen=True)
class CaseQuery:
    status: str | None = None
    department: str | None = None
    township: str | None = None
    grid: str | None = None
    flagged: bool | None = None
    overdue: bool | None = None
    extension_pending: bool | None = None
    limit: int = 50
    offset: int = 0

    def selector(self, now: datetime) -> dict[str, Any]:
        selector: dict[str, Any] = {}
        if self.status is not None:
            selector["status"] = self.status
        if self.department is not None:
            selector["departments"] = self.department
        if self.township is not None:
            selector["township_id"] = self.township
        if self.grid is not None:
            selector["grid_id"] = self.grid
        if self.flagged is not None:
            selector["flagged"] = self.flagged
        if self.extension_pending is not None:
            selector["extension_pending"] = self.extension_pending
        if self.overdue is True:
            selector["next_deadline"] = {"$lt": now}
        elif self.overdue is False:
            selector["$or"] = [{"next_deadline": None}, {"next_deadline": {"$gte": now}}]
        return selector


class CaseRepository:
    def __init__(self, cases: Collection, relay_now: RelayNow | None = None) -> None:
        self.cases = cases
        self._relay_now = relay_now
        # Concurrent deliveries (prefetch runs many at once) share insert commands.
        self._inserts = BatchedInserts(cases)

    def relay(self, case_id: str, events: Sequence[Outgoing]) -> None:
        """Hand the events just stored in the case's outbox to the relay (published at once by
        this replica; by the sweep should it die first)."""
        if self._relay_now is not None and events:
            self._relay_now(self.cases, case_id, events)

    async def insert_new(self, change: Change, events: list[Outgoing], now: datetime) -> bool:
        """Store a new case with its timeline and events; False if it exists (a redelivery)."""
        document = {
            **case_document(change.case),
            "history": list(change.history),
            "applied": [],
            "refused": [],
            **outbox_fields(events, now),
        }
        return await self._inserts.insert(document)

    async def load(self, case_id: str) -> StoredCase | None:
        document = await self.cases.find_one({"_id": case_id}, {"outbox": 0, "history": 0})
        if document is None:
            return None
        return StoredCase(
            case_from_document(document),
            frozenset(document.get("applied") or ()),
            frozenset(document.get("refused") or ()),
            dict(document.get("requests") or {}),
        )

    async def case_id_of_order(self, order_id: str) -> str | None:
        document = await self.cases.find_one({"orders.order_id": order_id}, {"_id": 1})
        return None if document is None else str(document["_id"])

    async def save(
        self,
        before: Case,
        change: Change,
        cause_id: str,
        events: list[Outgoing],
        now: datetime,
        *,
        refused: bool = False,
        fingerprint: str | None = None,
    ) -> bool:
        """Write a change if nobody changed the case since it was read (its version)."""
        fields = case_document(change.case)
        del fields["_id"]
        fields["version"] = before.version + 1
        if fingerprint is not None:
            # Request ids are uuids (no dots): safe as field names.
            fields[f"requests.{cause_id}"] = fingerprint
        update: dict[str, Any] = {
            "$set": fields,
            "$push": {
                "history": {"$each": list(change.history)},
                "refused" if refused else "applied": cause_id,
            },
        }
        if events:
            update = with_outbox(update, events, now)
        result = await self.cases.update_one(
            {"_id": before.case_id, "version": before.version}, update
        )
        return result.modified_count == 1

    async def view(self, case_id: str) -> dict[str, Any] | None:
        document = await self.cases.find_one({"_id": case_id}, _INTERNAL)
        return None if document is None else _public(document)

    async def search(self, query: CaseQuery, now: datetime) -> list[dict[str, Any]]:
        projection = {**_INTERNAL, "history": 0}
        cursor = (
            self.cases.find(query.selector(now), projection)
            .sort("opened_at", -1)
            .skip(query.offset)
            .limit(query.limit)
        )
        return [_public(document) async for document in cursor]


def _public(document: dict[str, Any]) -> dict[str, Any]:
    document["case_id"] = document.pop("_id")
    for name in _INTERNAL_FIELDS:
        document.pop(name, None)
    return document


class RoutingRuleRepository:
    def __init__(self, rules: Collection) -> None:
        self.rules = rules

    async def every_rule(self) -> list[RoutingRule]:
        return [_rule(document) async for document in self.rules.find({})]

    async def all(self, category_code: str | None = None) -> list[dict[str, Any]]:
        selector = {} if category_code is None else {"category_code": category_code}
        cursor = self.rules.find(selector).sort("_id", 1)
        return [{"rule_id": d.pop("_id"), **d} async for d in cursor]

    async def put(self, rule: RoutingRule, who: str, now: datetime) -> None:
        document = {
            "level": rule.level,
            "area_id": rule.area_id,
            "category_code": rule.category_code,
            "department": rule.department,
            "cooperating": list(rule.cooperating),
            "updated_by": who,
            "updated_at": now,
        }
        await self.rules.replace_one({"_id": rule.rule_id}, document, upsert=True)

    async def delete(self, rule_id: str) -> bool:
        result = await self.rules.delete_one({"_id": rule_id})
        return result.deleted_count == 1


def _rule(document: dict[str, Any]) -> RoutingRule:
    return RoutingRule(
        level=document["level"],
        area_id=document["area_id"],
        category_code=document["category_code"],
        department=document["department"],
        cooperating=tuple(document.get("cooperating") or ()),
    )


class RuleBook:
    """Every routing rule in memory: a report is routed without a database round trip.

    Rules are few (dozens) and change rarely. A replica reloads them every `refresh_seconds`
    and at once after its own writes, so another replica's change applies within that time.
    """

    def __init__(self, repository: RoutingRuleRepository, refresh_seconds: float) -> None:
        self.repository = repository
        self._refresh_seconds = refresh_seconds
        self._rules: dict[str, RoutingRule] | None = None

    async def reload(self) -> None:
        self._rules = {r.rule_id: r for r in await self.repository.every_rule()}

    async def by_ids(self, rule_ids: list[str]) -> list[RoutingRule]:
        if self._rules is None:
            await self.reload()
        assert self._rules is not None
        return [self._rules[i] for i in rule_ids if i in self._rules]

    async def keep_fresh(self) -> None:
        """The runtime's background loop."""
        while True:
            await asyncio.sleep(self._refresh_seconds)
            await self.reload()


class DepartmentKeyRepository:
    """One API key hash per department (scrypt; the key itself is never stored)."""

    def __init__(self, keys: Collection) -> None:
        self.keys = keys

    async def get(self, code: str) -> dict[str, Any] | None:
        return await self.keys.find_one({"_id": code})

    async def put(self, code: str, hashed: dict[str, Any], now: datetime) -> None:
        await self.keys.replace_one({"_id": code}, {**hashed, "updated_at": now}, upsert=True)

    async def codes(self) -> set[str]:
        return {str(d["_id"]) async for d in self.keys.find({}, {"_id": 1})}
