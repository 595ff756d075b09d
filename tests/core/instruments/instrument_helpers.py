"""Test helpers: build answer vectors that reach a given total for any instrument."""

from __future__ import annotations

from ketaclinic.core.instruments import Instrument


def answers_for_total(defn: Instrument, total: int) -> list[int]:
    """Greedy answers (all items answered) whose scored total equals `total`."""
    answers = [i.min_value for i in defn.items]
    remaining = total
    if defn.scoring_method == "domains":
        for d in defn.domains:
            first = defn.item(d.items[0])
            if d.combine == "max":
                take = min(first.max_value, remaining)
                answers[first.n - 1] = take
                remaining -= take
            else:
                for n in d.items:
                    it = defn.item(n)
                    take = min(it.max_value, remaining)
                    answers[n - 1] = take
                    remaining -= take
    else:
        for it in defn.items:
            take = min(it.max_value, remaining)
            answers[it.n - 1] = take
            remaining -= take
    assert remaining == 0, f"{defn.id}: cannot reach {total}"
    return answers
