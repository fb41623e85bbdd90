"""What a department does with one work order, and when: a seeded, pure plan of replies.

Times are shares of the order's own windows (accept-by and complete-by as dispatch stamped
them), so the same plan fits a city running in real time and one running a day a minute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gridloop_simulator.config import Departments

REJECT_REASONS: tuple[tuple[str, str | None], ...] = (
    ("not-ours", None),
    ("wrong-area", None),
    ("other", "现场核实后不属于本单位职责"),
)


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str  # accept, reject, progress, request-extension, complete
    via: str  # amqp or http
    data: dict[str, Any] = field(default_factory=dict)


def story_for(
    order: dict[str, Any], shares: Departments, rng: random.Random, *, can_reject: bool
) -> list[Step]:
    """The replies to one order. A fallback owner (can_reject False) never rejects."""
    dispatched = datetime.fromisoformat(order["dispatched_at"])
    accept_window = datetime.fromisoformat(order["accept_by"]) - dispatched
    complete_by = datetime.fromisoformat(order["complete_by"])
    complete_window = complete_by - dispatched

    def via() -> str:
        return "http" if rng.random() < shares.http_replies else "amqp"

    if can_reject and rng.random() < shares.reject:
        code, text = rng.choice(REJECT_REASONS)
        data: dict[str, Any] = {"reason_code": code}
        if text:
            data["reason_text"] = text
        return [Step(dispatched + accept_window * rng.uniform(0.05, 0.5), "reject", via(), data)]

    late_accept = rng.random() < shares.late_accept
    accepted = dispatched + accept_window * (
        rng.uniform(1.15, 1.5) if late_accept else rng.uniform(0.02, 0.6)
    )
    late_complete = rng.random() < shares.late_complete
    completed = dispatched + complete_window * (
        rng.uniform(1.05, 1.3) if late_complete else rng.uniform(0.3, 0.85)
    )
    # Work takes some time after the acceptance, however late that came.
    completed = max(completed, accepted + complete_window * 0.05)
    steps = [Step(accepted, "accept", via(), {"handler": f"handler-{rng.randrange(1, 9)}"})]
    if rng.random() < shares.extension:
        steps.append(
            Step(
                accepted + complete_window * 0.02,
                "request-extension",
                via(),
                {
                    "reason": "需要协调施工队伍",
                    "proposed_complete_by": (complete_by + complete_window * 0.5).isoformat(),
                },
            )
        )
    if rng.random() < shares.progress:
        steps.append(
            Step(accepted + (completed - accepted) / 2, "progress", via(), {"note": "已到现场处置"})
        )
    steps.append(
        Step(
            completed,
            "complete",
            via(),
            {"result": "已处理完毕", "handler": steps[0].data["handler"]},
        )
    )
    return sorted(steps, key=lambda step: step.at)


def wall_delay(at: datetime, now: datetime) -> float:
    """Seconds from now until a step is due (0 when it is overdue)."""
    return max((at - now) / timedelta(seconds=1), 0.0)
