"""`in_chunks` cuts `$in` lists to a length the stand-in answers in linear time."""

from __future__ import annotations

from gridloop_common.mongo import IN_LIST_LIMIT, in_chunks


def test_values_come_back_in_order_in_lists_of_at_most_the_limit() -> None:
    values = list(range(2 * IN_LIST_LIMIT + 7))
    chunks = list(in_chunks(values))
    assert [len(c) for c in chunks] == [IN_LIST_LIMIT, IN_LIST_LIMIT, 7]
    assert [v for c in chunks for v in c] == values


def test_a_generator_is_taken_once_and_nothing_gives_no_lists() -> None:
    assert list(in_chunks(iter("abcde"), 2)) == [["a", "b"], ["c", "d"], ["e"]]
    assert list(in_chunks([])) == []
