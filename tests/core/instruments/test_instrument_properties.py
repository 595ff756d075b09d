"""Hypothesis properties over every instrument: totals in range, bands contiguous and covering, bad input rejected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.instruments import INSTRUMENT_IDS, AnswerError, Instrument, load_instrument, score


def valid_answers(defn: Instrument) -> st.SearchStrategy[list[int]]:
    def fix_skips(values: list[int]) -> list[int]:
        if defn.id == "cssrs-screener" and values[1] == 0:
            values[2] = values[3] = values[4] = 0
        if defn.id == "cssrs-screener" and values[5] == 0:
            values[6] = 0
        return values

    return st.tuples(*(st.integers(i.min_value, i.max_value) for i in defn.items)).map(
        lambda t: fix_skips(list(t))
    )


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_total_within_range_and_band_matches(iid: str, data: st.DataObject) -> None:
    defn = load_instrument(iid)
    answers = data.draw(valid_answers(defn))
    r = score(defn, answers)
    assert r.complete is True
    if defn.has_total:
        assert r.total is not None
        assert defn.total_min <= r.total <= defn.total_max
        if defn.bands:
            band = [b for b in defn.bands if b.low <= r.total <= b.high]
            assert len(band) == 1
            assert r.severity == band[0].code
    else:
        assert r.total is None
        assert r.severity in defn.risk_order


@pytest.mark.parametrize("iid", [i for i in INSTRUMENT_IDS if load_instrument(i).bands])
def test_bands_contiguous_and_cover_range(iid: str) -> None:
    defn = load_instrument(iid)
    covered = [t for b in defn.bands for t in range(b.low, b.high + 1)]
    assert covered == list(range(defn.total_min, defn.total_max + 1))


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_out_of_range_value_rejected_naming_item(iid: str, data: st.DataObject) -> None:
    defn = load_instrument(iid)
    answers = [i.min_value for i in defn.items]
    idx = data.draw(st.integers(0, len(defn.items) - 1))
    item = defn.items[idx]
    bad = data.draw(
        st.one_of(st.integers(max_value=item.min_value - 1), st.integers(min_value=item.max_value + 1))
    )
    answers[idx] = bad
    with pytest.raises(AnswerError) as exc:
        score(defn, answers)
    assert exc.value.field == f"item {item.code}"


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 40))
def test_wrong_count_rejected(iid: str, n: int) -> None:
    defn = load_instrument(iid)
    if n == len(defn.items):
        n += 1
    with pytest.raises(AnswerError) as exc:
        score(defn, [0] * n)
    assert exc.value.field == "answers"


@pytest.mark.parametrize("iid", [i for i in INSTRUMENT_IDS if load_instrument(i).has_total])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_missing_item_makes_form_incomplete(iid: str, data: st.DataObject) -> None:
    defn = load_instrument(iid)
    answers: list[int | None] = list(data.draw(valid_answers(defn)))
    idx = data.draw(st.integers(0, len(answers) - 1))
    answers[idx] = None
    r = score(defn, answers)
    assert (r.complete, r.total, r.severity) == (False, None, None)
    assert r.missing_items == (defn.items[idx].code,)
