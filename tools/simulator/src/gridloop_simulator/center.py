"""The smart-governance center's operators: triage, re-dispatch, extensions, village holds,
one-click notices — through dispatch's and notify's HTTP APIs with the operator's key.

Every decision carries an Idempotency-Key derived from what it decides about (the rejected
order, the extension request), so an operator who clicks again after a timeout, or sees the
same item in the next poll because dispatch has not caught up, cannot decide twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

from gridloop_common.catalogue import CATEGORIES, DEPARTMENTS
from gridloop_common.registry import Registry
from gridloop_simulator.config import Center as CenterShares
from gridloop_simulator.http import ServiceClient
from gridloop_simulator.record import Broadcast, CenterAction, Record

OPERATOR = "sim-operator"
CITY_UNITS = tuple(d.code for d in DEPARTMENTS if d.kind == "city_unit")


class Center:
    def __init__(
        self,
        *,
        dispatch: ServiceClient,
        notify: ServiceClient,
        operator_key: str,
        record: Record,
        shares: CenterShares,
        registry: Registry,
        seed: int,
    ) -> None:
        self._dispatch = dispatch
        self._notify = notify
        self._key = operator_key
        self._record = record
        self._shares = shares
        self._registry = registry
        self._rng = random.Random(f"{seed}:center")
        self._seed = seed
        # Decisions already taken (by Idempotency-Key): the next poll may still list the item.
        self._decided: set[str] = set()

    async def run(self) -> None:
        """Work the center's lists until cancelled."""
        while True:
            for look in (self._triage, self._rejected, self._extensions, self._village_holds):
                try:
                    await look()
                except Exception:  # a poll that failed is simply tried at the next round
                    self._record.counters["center_poll_failures"] += 1
            await asyncio.sleep(self._shares.poll_seconds)

    async def broadcast(self, n: int, *, city: bool = False) -> None:
        """A one-click notice to one village (chat groups and households), or the city's groups."""
        if city:
            audience: dict[str, Any] = {"level": "city"}
            channels = ["chat_group"]
        else:
            village = self._rng.choice(self._registry.villages)
            audience = {"level": "village", "ids": [village.id]}
            channels = ["chat_group", "sms"]
        key = f"sim-{self._seed}-notice-{n}"
        answer = await self._notify.request(
            "POST",
            "/v1/notices",
            json={
                "audience": audience,
                "title": "停水通知" if not city else "防汛通知",
                "body": "因管网检修，明日8:00-18:00停水，请提前储水。",
                "channels": channels,
            },
            headers={"Idempotency-Key": key, "X-Api-Key": self._key},
        )
        self._note("notice", key, key, answer.status)
        if answer.response is not None and answer.status == 202:
            body = answer.response.json()
            self._record.broadcasts.append(
                Broadcast(
                    notice_id=body["notice_id"],
                    key=key,
                    level=audience["level"],
                    ids=list(audience.get("ids", [])),
                    recipients=body["recipients"],
                    recipients_by_channel=body.get("recipients_by_channel", {}),
                    sent_at=time.time(),
                )
            )

    # --- the lists -----------------------------------------------------------------------

    async def _cases(self, path: str) -> list[dict[str, Any]]:
        answer = await self._dispatch.request(
            "GET", path, patient=False, headers={"X-Api-Key": self._key}
        )
        if answer.response is None or answer.status != 200:
            return []
        cases: list[dict[str, Any]] = answer.response.json()["cases"]
        return cases

    async def _triage(self) -> None:
        for case in await self._cases("/v1/triage?limit=500"):
            key = f"center-triage-{case['case_id']}"
            body: dict[str, Any] = {"operator": OPERATOR}
            reasons = case.get("triage_reasons") or []
            if "unlocated" in reasons:
                body["grid_id"] = self._rng.choice(self._registry.grids).id
            if "unclassified" in reasons or "unknown_category" in reasons:
                body["category_code"] = self._rng.choice(CATEGORIES).code
            await self._decide("triage", f"/v1/cases/{case['case_id']}/triage", key, body)

    async def _rejected(self) -> None:
        for case in await self._cases("/v1/cases?status=rejected&limit=500"):
            orders = case.get("orders") or []
            current_round = max((o["round"] for o in orders), default=1)
            latest: dict[str, dict[str, Any]] = {}
            for order in orders:
                if order["round"] == current_round:
                    latest[order["slot"]] = order
            for order in latest.values():
                if order["status"] != "rejected":
                    continue
                refused_by = {
                    o["department"]
                    for o in orders
                    if o["slot"] == order["slot"] and o["status"] == "rejected"
                }
                holding = {o["department"] for o in latest.values() if o["status"] != "rejected"}
                choices = [c for c in CITY_UNITS if c not in refused_by | holding]
                if not choices:
                    continue
                department = self._rng.choice(choices)
                # The unit is part of the key: a refused choice (another replica's view was
                # newer) is followed by another unit at the next look, not by the same refusal.
                key = f"center-redispatch-{order['order_id']}-{department}"
                await self._decide(
                    "redispatch",
                    f"/v1/cases/{case['case_id']}/redispatch",
                    key,
                    {"operator": OPERATOR, "department": department, "order_id": order["order_id"]},
                )

    async def _extensions(self) -> None:
        for case in await self._cases("/v1/cases?extension_pending=true&limit=500"):
            for order in case.get("orders") or []:
                extensions = order.get("extensions") or []
                if not extensions or extensions[-1].get("status") != "pending":
                    continue
                verdict = (
                    "refuse" if self._rng.random() < self._shares.refuse_extension else "approve"
                )
                key = f"center-extension-{order['order_id']}-{len(extensions)}"
                await self._decide(
                    verdict,
                    f"/v1/orders/{order['order_id']}/extension/{verdict}",
                    key,
                    {"operator": OPERATOR},
                )

    async def _village_holds(self) -> None:
        for case in await self._cases("/v1/cases?status=reported&limit=500"):
            key = f"center-village-{case['case_id']}"
            if key in self._decided:
                continue
            if self._rng.random() < self._shares.resolve_locally:
                await self._decide(
                    "resolve",
                    f"/v1/cases/{case['case_id']}/resolve-locally",
                    key,
                    {"operator": OPERATOR, "resolution": "村（社区）调解成功"},
                )
            else:
                await self._decide(
                    "escalate", f"/v1/cases/{case['case_id']}/escalate", key, {"operator": OPERATOR}
                )

    async def _decide(self, action: str, path: str, key: str, body: dict[str, Any]) -> None:
        if key in self._decided:
            return
        answer = await self._dispatch.request(
            "POST", path, json=body, headers={"X-Api-Key": self._key, "Idempotency-Key": key}
        )
        self._note(action, path.split("/")[3], key, answer.status, body)
        if answer.status is not None and answer.status < 500:
            self._decided.add(key)

    def _note(
        self, action: str, target: str, key: str, status: int | None, detail: Any = None
    ) -> None:
        self._record.center.append(
            CenterAction(action, target, time.time(), status, key, dict(detail or {}))
        )
        self._record.counters[f"center_{action}"] += 1


def spread(count: int, duration: float) -> Sequence[float]:
    """`count` moments evenly inside a run of `duration` seconds (for the notices)."""
    return [duration * (n + 1) / (count + 1) for n in range(count)]
