"""Two scoring replicas on one inbox and one database: each fact counted once, every figure as
an independent computation says, and the same as a rebuild — whichever replica handled what."""

from __future__ import annotations

import random

import pytest

from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_scoring.__main__ import run_rebuild

from .conftest import running_scoring, scoring_settings
from .lifecycles import SEED, generate
from .test_correctness import TYPES, compare_entities, expected_figures, report

pytestmark = pytest.mark.integration


async def test_two_replicas_share_the_work_and_agree_with_the_independent_computation(
    isolated: Isolated, mongo_client: Client
) -> None:
    world = generate(80)
    events = world.events
    rng = random.Random(SEED + 2)
    sent = [*events, *rng.sample(events, len(events) // 10)]
    rng.shuffle(sent)
    settings = scoring_settings(isolated, log_level="WARNING", prefetch=16)
    async with running_scoring(settings) as one, running_scoring(settings) as two:
        for outgoing in sent:
            await one.publish(outgoing)

        async def all_handled() -> bool:
            handled = sum(s.handled(t) for s in (one, two) for t in TYPES)
            return handled >= len(sent) and await one.deps.recomputer.backlog() == 0

        await eventually(all_handled, timeout=120, what="every delivery handled, figures current")
        shares = [sum(s.handled(t) for t in TYPES) for s in (one, two)]
        assert min(shares) > 0, f"both replicas took deliveries: {shares}"

        problems = await compare_entities(one, expected_figures(world))
        assert not problems, report(problems, "figures differ from the independent computation")
        assert await run_rebuild(settings, check=True) == 0, "rebuild --check found differences"
