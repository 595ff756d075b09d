"""Hypothesis properties of the dose guard: decision precedence, monotonicity, determinism, robustness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.protocols import (
    Dose,
    DoseRequest,
    PatientFacts,
    check_dose,
    get_protocol,
    load_protocols,
)

T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
RANK = {"allow": 0, "warn": 1, "block": 2}
PROTOCOLS = [p.id for p in load_protocols()]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, DoseRequest]:
    pid = draw(st.sampled_from(PROTOCOLS))
    p = get_protocol(pid)
    route = draw(st.sampled_from(p.routes))
    n = draw(st.integers(0, 8))
    offsets = sorted(draw(st.lists(st.floats(0, 60 * 24), min_size=n, max_size=n)))
    mg = st.floats(1, 400, allow_nan=False)
    hist = tuple(Dose(T0 + timedelta(hours=o), p.drug, route, draw(mg)) for o in offsets)
    last = offsets[-1] if offsets else 0.0
    t = T0 + timedelta(hours=last + draw(st.floats(0, 24 * 20)))
    proposed = Dose(
        t,
        p.drug,
        route,
        draw(mg),
        duration_min=draw(st.none() | st.floats(1, 600)),
        ordered_mg=draw(st.none() | mg),
    )
    weight = draw(st.floats(-10, 400, allow_nan=False))
    return pid, DoseRequest(PatientFacts(weight), pid, hist, proposed)


@settings(max_examples=200, deadline=None)
@given(requests())
def test_decision_is_the_most_severe_finding_level(item: tuple[str, DoseRequest]) -> None:
    pid, req = item
    r = check_dose(req, get_protocol(pid))
    expected = max((f.level for f in r.findings), key=RANK.__getitem__, default="allow")
    assert r.decision == expected
    assert len({f.code for f in r.findings}) == len(r.findings)
    assert all(f.level in ("warn", "block") and f.message for f in r.findings)
    assert check_dose(req, get_protocol(pid)) == r  # deterministic


@settings(max_examples=200, deadline=None)
@given(requests(), st.floats(1.0, 3.0))
def test_a_larger_dose_is_never_judged_less_severe_on_dose_limits(
    item: tuple[str, DoseRequest], factor: float
) -> None:
    pid, req = item
    p = get_protocol(pid)
    small = req.proposed
    big = Dose(small.time, small.drug, small.route, small.dose_mg * factor, small.duration_min, None)
    small = Dose(small.time, small.drug, small.route, small.dose_mg, small.duration_min, None)
    a = check_dose(DoseRequest(req.patient, pid, req.history, small), p)
    b = check_dose(DoseRequest(req.patient, pid, req.history, big), p)
    for code in ("dose_exceeds_max", "cumulative_exceeded"):
        la = next((f.level for f in a.findings if f.code == code), "allow")
        lb = next((f.level for f in b.findings if f.code == code), "allow")
        assert RANK[lb] >= RANK[la], code


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PROTOCOLS), st.floats(40, 200))
def test_protocol_default_dose_is_allowed_for_any_ordinary_weight(pid: str, weight: float) -> None:
    p = get_protocol(pid)
    d = Dose(T0, p.drug, p.routes[0], p.default_dose_mg(weight))
    assert check_dose(DoseRequest(PatientFacts(weight), pid, (), d), p).decision == "allow"


@settings(max_examples=200, deadline=None)
@given(requests())
def test_history_order_does_not_matter(item: tuple[str, DoseRequest]) -> None:
    pid, req = item
    p = get_protocol(pid)
    rev = DoseRequest(req.patient, pid, tuple(reversed(req.history)), req.proposed)
    assert check_dose(rev, p) == check_dose(req, p)
