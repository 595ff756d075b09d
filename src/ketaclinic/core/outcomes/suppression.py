"""Small-cell suppression of aggregate counts (who sees a count of 1 to threshold-1, and what it would reveal).

Rule (the CMS cell-size suppression policy, threshold 11; the threshold is the clinic's setting): a count from 1
to threshold-1 is not shown, and neither is any figure from which it could be worked back: a proportion whose
numerator, denominator or complement (denominator - numerator) is small, and, in a table of parts that add up
to a shown total, a second part when only one is hidden (otherwise the hidden one is the total minus the
others). Zero is shown: an empty cell discloses nobody. A threshold of 0 or 1 turns suppression off.
"""

from __future__ import annotations

from collections.abc import Mapping


def is_small(count: int, threshold: int) -> bool:
    """A count that may not be shown: 1 to threshold-1."""
    return 0 < count < threshold


def proportion_hidden(n: int, of: int, threshold: int) -> bool:
    """Whether n of `of` (and its rate and interval) must be withheld."""
    return is_small(n, threshold) or is_small(of, threshold) or is_small(of - n, threshold)


def hidden_parts(parts: Mapping[str, int], threshold: int) -> frozenset[str]:
    """The parts of a shown total to withhold: the small ones, plus the smallest other non-zero part when only
    one is small (complementary suppression)."""
    hidden = {k for k, v in parts.items() if is_small(v, threshold)}
    if len(hidden) == 1:
        rest = sorted((v, k) for k, v in parts.items() if k not in hidden and v > 0)
        if rest:
            hidden.add(rest[0][1])
    return frozenset(hidden)


def fewer_than(threshold: int) -> str:
    return f"fewer than {threshold}"


__all__ = ["fewer_than", "hidden_parts", "is_small", "proportion_hidden"]
