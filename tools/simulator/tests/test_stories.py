"""A department's plan for one order: shares of its windows, late ones past the deadline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from gridloop_simulator.config import Departments
from gridloop_simulator.stories import Step, story_for

DISPATCHED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ORDER = {
    "dispatched_at": DISPATCHED.isoformat(),
    "accept_by": (DISPATCHED + timedelta(hours=8)).isoformat(),
    "complete_by": (DISPATCHED + timedelta(hours=72)).isoformat(),
}
ACCEPT_BY = DISPATCHED + timedelta(hours=8)
COMPLETE_BY = DISPATCHED + timedelta(hours=72)


def stories(shares: Departments, n: int = 400, *, can_reject: bool = True) -> list[list[Step]]:
    rng = random.Random(1)
    return [story_for(ORDER, shares, rng, can_reject=can_reject) for _ in range(n)]


def test_a_department_that_never_errs_accepts_and_completes_in_time() -> None:
    perfect = Departments(reject=0, late_accept=0, late_complete=0, extension=0)
    for steps in stories(perfect):
        actions = [s.action for s in steps]
        assert actions[0] == "accept" and actions[-1] == "complete"
        assert steps[0].at <= ACCEPT_BY
        assert steps[-1].at <= COMPLETE_BY


def test_late_shares_put_the_reply_past_the_deadline() -> None:
    late = Departments(reject=0, late_accept=1, late_complete=1, extension=0)
    for steps in stories(late):
        assert steps[0].action == "accept" and steps[0].at > ACCEPT_BY
        assert steps[-1].action == "complete" and steps[-1].at > COMPLETE_BY


def test_a_rejection_is_the_whole_story_and_names_a_reason() -> None:
    rejecting = Departments(reject=1)
    for steps in stories(rejecting):
        [step] = steps
        assert step.action == "reject"
        assert step.data["reason_code"] in ("not-ours", "wrong-area", "other")
        if step.data["reason_code"] == "other":
            assert step.data["reason_text"]


def test_a_fallback_owner_never_rejects() -> None:
    for steps in stories(Departments(reject=1), can_reject=False):
        assert "reject" not in [s.action for s in steps]


def test_steps_come_in_time_order_and_completion_follows_acceptance() -> None:
    for steps in stories(Departments(reject=0, progress=1, extension=1, late_accept=0.5)):
        times = [s.at for s in steps]
        assert times == sorted(times)
        assert steps[0].action == "accept"
        assert steps[-1].action == "complete"


def test_an_extension_asks_for_a_later_complete_by() -> None:
    for steps in stories(Departments(reject=0, extension=1)):
        [request] = [s for s in steps if s.action == "request-extension"]
        assert datetime.fromisoformat(request.data["proposed_complete_by"]) > COMPLETE_BY


def test_the_http_share_picks_the_channel_of_each_reply() -> None:
    everything = [s for steps in stories(Departments(http_replies=0.5)) for s in steps]
    vias = {s.via for s in everything}
    assert vias == {"http", "amqp"}
