"""Small-cell suppression: which counts and derived figures are withheld."""

from __future__ import annotations

from ketaclinic.core.outcomes.suppression import fewer_than, hidden_parts, is_small, proportion_hidden


def test_counts_from_1_to_threshold_minus_1_are_small_zero_is_not() -> None:
    assert [n for n in range(0, 14) if is_small(n, 11)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert not any(is_small(n, 0) for n in range(0, 20))
    assert fewer_than(11) == "fewer than 11"


def test_a_proportion_is_hidden_when_its_numerator_denominator_or_complement_is_small() -> None:
    assert proportion_hidden(5, 100, 11)  # numerator
    assert proportion_hidden(95, 100, 11)  # complement: 5 did not respond
    assert proportion_hidden(0, 8, 11)  # denominator
    assert not proportion_hidden(0, 40, 11)  # none of 40: nobody disclosed
    assert not proportion_hidden(40, 40, 11)
    assert not proportion_hidden(20, 40, 11)


def test_a_lone_small_part_takes_the_smallest_other_part_with_it() -> None:
    parts = {"not_dosed": 3, "no_baseline": 0, "lost": 25, "evaluable": 120}
    assert hidden_parts(parts, 11) == frozenset({"not_dosed", "lost"})
    assert hidden_parts({"a": 3, "b": 4, "c": 50}, 11) == frozenset({"a", "b"})
    assert hidden_parts({"a": 0, "b": 40, "c": 50}, 11) == frozenset()
    assert hidden_parts({"a": 3, "b": 0}, 11) == frozenset({"a"})
