"""The compare-and-set loop: re-read on a lost race, give up after the limit."""

from __future__ import annotations

import pytest

from sluice.stores.cas import ConcurrentUpdate, compare_and_set


def test_a_lost_race_reads_again_and_reapplies_the_change() -> None:
    stored = {"value": 1}
    races = iter([True, False])  # another writer wins the first write

    def write(current: int, proposed: int) -> bool:
        if next(races):
            stored["value"] = 10
            return False
        if stored["value"] != current:
            return False
        stored["value"] = proposed
        return True

    swap = compare_and_set(lambda: stored["value"], lambda v: v + 1, write, what="counter")
    assert (swap.current, swap.written, stored["value"]) == (10, 11, 11)


def test_a_change_that_returns_none_writes_nothing() -> None:
    swap = compare_and_set(lambda: 5, lambda v: None, lambda c, p: pytest.fail("wrote"),
                           what="x")
    assert (swap.current, swap.written) == (5, None)


def test_endless_races_raise_the_callers_conflict() -> None:
    class Busy(ConcurrentUpdate):
        pass

    with pytest.raises(Busy, match="thing changed 3 times"):
        compare_and_set(lambda: 0, lambda v: v + 1, lambda c, p: False, what="thing",
                        attempts=3, conflict=Busy)
