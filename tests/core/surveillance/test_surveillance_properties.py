"""Properties of the surveillance engine over generated histories, and the shipped data file's invariants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.core.surveillance.surveillance_helpers import assess, day, dose, history, obs

from ketaclinic.core.surveillance import (
    ALERT_CODES,
    FOLLOWUP_CODE,
    ITEM_CODES,
    default_settings,
    parse_history,
    surveil,
)

ALLOWED = {f"{c}_{lvl}" for c in (*ITEM_CODES, FOLLOWUP_CODE) for lvl in ("due", "overdue")} | set(
    ALERT_CODES
)

dose_days = st.lists(st.integers(0, 400), max_size=30)
mgs = st.floats(5, 120, allow_nan=False)
results = st.lists(
    st.one_of(
        st.tuples(st.just("bpic-ss"), st.integers(-30, 400), st.integers(0, 38)),
        st.tuples(st.just("sds"), st.integers(-30, 400), st.integers(0, 15)),
        st.tuples(st.just("cognition"), st.integers(-30, 400), st.integers(0, 30)),
    ),
    max_size=12,
)
labs = st.lists(
    st.one_of(
        st.tuples(
            st.just("5794-3"), st.integers(-30, 400), st.sampled_from(["negative", "trace", "1+", "0"])
        ),
        st.tuples(st.sampled_from(["1742-6", "1920-8"]), st.integers(-30, 400), st.integers(5, 400)),
    ),
    max_size=8,
)


def _build(days: list[int], mg: float, res: list[Any], lab: list[Any], end: int | None) -> dict[str, Any]:
    return history(
        [dose(d, mg) for d in days],
        [assess(i, d, total=t) for i, d, t in res],
        [obs(c, d, v, **({"reference_high": 40} if c != "5794-3" else {})) for c, d, v in lab],
        course_end=None if end is None else day(end).isoformat(),
    )


@settings(max_examples=150, deadline=None)
@given(dose_days, mgs, results, labs, st.none() | st.integers(0, 400), st.integers(0, 500))
def test_findings_are_well_formed(
    days: list[int], mg: float, res: list[Any], lab: list[Any], end: int | None, on: int
) -> None:
    r = surveil(parse_history(_build(days, mg, res, lab, end)), day(on))
    assert {f.code for f in r.findings} <= ALLOWED
    # one finding per schedule item at most; the follow-ups at most one per point
    item_findings = [f.code.rsplit("_", 1)[0] for f in r.findings if f.level != "alert"]
    for code in ITEM_CODES:
        assert sum(1 for c in item_findings if c.startswith(code)) <= 1
    assert sum(1 for f in r.findings if f.code.startswith(FOLLOWUP_CODE)) <= 2
    # alerts first, in the contract's order
    levels = [f.level for f in r.findings]
    assert levels == sorted(levels, key=lambda lvl: lvl != "alert")
    alert_codes = [f.code for f in r.findings if f.level == "alert"]
    assert alert_codes == [c for c in ALERT_CODES if c in alert_codes]
    # exposure matches the doses on or before `on`
    counted = [d for d in days if d <= on]
    assert r.exposure.sessions == len(set(counted))
    assert abs(r.exposure.total_mg - mg * len(counted)) < 1e-6
    # no schedule finding unless on treatment
    if not r.on_treatment:
        assert all(f.level == "alert" or f.code.startswith(FOLLOWUP_CODE) for f in r.findings)


@settings(max_examples=100, deadline=None)
@given(
    dose_days,
    mgs,
    results,
    labs,
    st.none() | st.integers(0, 400),
    st.integers(0, 500),
    st.integers(-300, 300),
)
def test_shifting_every_date_by_the_same_days_changes_nothing(
    days: list[int], mg: float, res: list[Any], lab: list[Any], end: int | None, on: int, shift: int
) -> None:
    a = surveil(parse_history(_build(days, mg, res, lab, end)), day(on))
    moved = _build(
        [d + shift for d in days],
        mg,
        [(i, d + shift, t) for i, d, t in res],
        [(c, d + shift, v) for c, d, v in lab],
        None if end is None else end + shift,
    )
    b = surveil(parse_history(moved), day(on + shift))
    assert [(f.code, f.level, f.evidence) for f in a.findings] == [
        (f.code, f.level, f.evidence) for f in b.findings
    ]
    assert [f.due_date for f in a.findings] == [
        None if f.due_date is None else f.due_date - timedelta(days=shift) for f in b.findings
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 80), min_size=1, max_size=20), results, st.integers(0, 90))
def test_a_result_on_the_day_clears_its_item(days: list[int], res: list[Any], extra: int) -> None:
    on = max(days) + extra  # always on treatment
    base = _build(days, 35, res, [], None)
    base["assessments"].append(assess("bpic-ss", on, total=0))
    r = surveil(parse_history(base), day(on))
    assert not [f for f in r.findings if f.code.startswith("bladder_screen")]


def test_shipped_data_names_a_source_for_every_item_and_alert() -> None:
    s = default_settings()
    assert [i.code for i in s.items] == list(ITEM_CODES)
    assert [a.code for a in s.alerts] == list(ALERT_CODES)
    assert all(len(x.source) > 40 for x in (*s.items, *s.alerts, s.followups))
    # the numbers of the default schedule
    assert (s.on_treatment_days, s.due_window_days) == (90, 14)
    assert {i.code: i.interval_days for i in s.items} == {
        "bladder_screen": 90,
        "urinalysis": 180,
        "dependence_screen": 90,
        "cognition_screen": 90,
        "liver_enzymes": 180,
    }
    assert s.item("liver_enzymes").first_due_session == 13
    assert [(p.day, p.met_from_day) for p in s.followups.points] == [(7, 0), (28, 14)]
    assert s.alert("bladder_symptoms").total_at_least == 19
    assert s.alert("liver_enzymes_raised").times_upper_limit == 3
    assert s.alert("dependence_signal").total_at_least == 3
    esc = s.alert("escalation_tolerance")
    assert (esc.min_sessions, esc.window_sessions, esc.ratio_at_least) == (8, 4, 1.25)
