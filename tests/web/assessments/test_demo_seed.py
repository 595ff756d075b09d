"""Demo data of the assessments and screening apps, seeded through the real actions by `ketaclinic demo`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ketaclinic.web import demo
from ketaclinic.web.assessments.models import Assessment, RemoteLink, RemoteSchedule, SuicideAlert
from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
from ketaclinic.web.screening import selectors as screening

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(demo, "DOMAIN_APPS", ("assessments", "screening"))
    ctx = demo.seed_demo()
    assert ctx is not None
    return ctx


def test_screening_demo_results_and_cleared_list(seeded: Any) -> None:
    by_mrn = {p.mrn: p for p in seeded.patients}
    results = {}
    for p in seeded.patients:
        run = screening.screening_latest(p)
        if run is not None:
            results[p.mrn] = (run.decision, screening.screening_is_cleared(p))
    assert len(results) == 20
    assert "MRN-000011" not in results and "MRN-000045" not in results and "MRN-000046" not in results
    assert Counter(results.values()) == {
        ("eligible", True): 14,
        ("needs_review", True): 2,
        ("needs_review", False): 3,
        ("ineligible", False): 1,
    }
    assert results["MRN-000021"] == ("ineligible", False)
    cleared = seeded.extra["cleared_patients"]
    assert [p.mrn for p in cleared] == sorted(m for m, (_d, ok) in results.items() if ok)
    for p in cleared:
        assert p.latest_weight() is not None and not has_unacknowledged_suicide_alert(p)
    # Cleared after review: the prescriber's written reason is on the run.
    run = screening.screening_latest(by_mrn["MRN-000006"])
    assert run is not None and [f["code"] for f in run.findings] == ["elevated_blood_pressure"]
    assert screening.reviews_for(run)["elevated_blood_pressure"].prescriber.username == "dr.okafor"


def test_assessments_demo_histories_and_alerts(seeded: Any) -> None:
    patients = {a.patient.mrn for a in Assessment.objects.select_related("patient")}
    assert patients == {f"MRN-{i:06d}" for i in range(22, 37)}
    per_instrument = Counter(Assessment.objects.values_list("instrument_id", flat=True))
    assert set(per_instrument) == {"phq9", "madrs", "gad7"}
    assert per_instrument["madrs"] == 15 * 4 and per_instrument["gad7"] == 10 * 3
    assert Assessment.objects.filter(complete=False).count() == 0
    assert (
        Assessment.objects.filter(source="remote").count()
        == RemoteLink.objects.filter(used_at__isnull=False).count()
        > 0
    )
    # Every PHQ-9 series starts at a baseline in the moderately severe / severe range.
    for mrn in patients:
        first = (
            Assessment.objects.filter(patient__mrn=mrn, instrument_id="phq9").order_by("assessed_at").first()
        )
        assert first is not None and first.context == "baseline" and first.total >= 17
    # Remitters end below 5 on PHQ-9 (patients 0, 4, 8, 12 of the 15).
    for mrn in ("MRN-000022", "MRN-000026", "MRN-000030", "MRN-000034"):
        last = (
            Assessment.objects.filter(patient__mrn=mrn, instrument_id="phq9").order_by("assessed_at").last()
        )
        assert last is not None and last.total < 5, (mrn, last.total)
    alerts = {(a.patient.mrn, a.acknowledged_at is not None, a.action) for a in SuicideAlert.objects.all()}
    assert alerts == {("MRN-000029", False, ""), ("MRN-000025", True, "safety_plan")}
    schedules = RemoteSchedule.objects.filter(active=True).order_by("patient__mrn")
    assert [s.patient.mrn for s in schedules] == ["MRN-000022", "MRN-000026", "MRN-000030"]
    assert sum(1 for s in schedules if s.next_due_at is not None and s.next_due_at <= seeded.now) == 1
