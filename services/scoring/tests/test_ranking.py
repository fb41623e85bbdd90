"""Rankings: ties share a rank; entities without a value come last, unranked."""

from __future__ import annotations

from gridloop_scoring.ranking import rank


def test_equal_values_share_a_rank_and_the_next_rank_skips() -> None:
    values = {"a": 0.9, "b": 0.95, "c": 0.9, "d": 0.5, "e": None}
    ranked = rank(list(values), values.get, str)
    assert [(r.item, r.rank) for r in ranked] == [
        ("b", 1),
        ("a", 2),
        ("c", 2),
        ("d", 4),
        ("e", None),  # no value: listed last, not ranked
    ]


def test_ascending_metrics_rank_the_smallest_first() -> None:
    seconds = {"fast": 60.0, "slow": 3600.0}
    assert [r.item for r in rank(list(seconds), seconds.get, str, descending=False)] == [
        "fast",
        "slow",
    ]
