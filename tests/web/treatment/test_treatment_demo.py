"""The treatment demo seed: made through the real actions, consistent, every dose drawn from the ledger, and the
assessment-history patients dosed between their baseline and later scores (response/remission appear)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ketaclinic.core.ledger import EntryType
from ketaclinic.web import demo
from ketaclinic.web.assessments.selectors import trends_for_patient
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.demo import seed_demo
from ketaclinic.web.ledger.models import LedgerEntry
from ketaclinic.web.ledger.selectors import chain_verify, unreconciled_sessions
from ketaclinic.web.screening.selectors import screening_is_cleared, screening_latest
from ketaclinic.web.treatment.models import (
    Administration,
    DosingSession,
    RemsMonitoringForm,
    TreatmentCourse,
)
from ketaclinic.web.treatment.stock import reconciliation, reconciliation_problems

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_seed_makes_courses_sessions_through_the_ledger_and_outcomes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The long-term safety demo writes a year of history rows outside the session workflow (its own test).
    monkeypatch.setattr(demo, "DOMAIN_APPS", tuple(a for a in demo.DOMAIN_APPS if a != "surveillance"))
    ctx = seed_demo()
    assert ctx is not None
    # the pain demo's chronic-pain courses are checked in tests/web/pain
    courses = list(
        TreatmentCourse.objects.filter(clinic=ctx.clinic).exclude(indication="chronic_pain").order_by("pk")
    )
    assert sorted(c.protocol_id for c in courses) == ["esketamine-trd"] * 2 + ["iv-racemic-depression"] * 9
    cleared = {p.pk for p in ctx.extra["cleared_patients"]}
    history = {h["patient"].pk for h in ctx.extra["assessment_history"]}
    core = [c for c in courses if c.patient_id in cleared]
    assert len(core) == 5 and len([c for c in courses if c.patient_id in history]) == 6
    for c in courses:
        assert screening_is_cleared(c.patient) and c.patient.consents.count() == 1
    for c in core:  # the screening demo's clearance came first; the treatment demo did not re-screen
        assert screening_latest(c.patient).created_at < c.started_at
        assert not c.patient.screening_runs.filter(created_at__gt=c.started_at).exists()
    assert (
        AuditEvent.objects.filter(action="course.start", object_id__in=[str(c.pk) for c in courses]).count()
        == 11
    )
    # Each discharged session went through every state once, and reconciles with the ledger.
    discharged = list(DosingSession.objects.filter(status="discharged"))
    assert len(discharged) >= 30
    for s in discharged:
        assert [t.to_status for t in s.transitions.all()] == [
            "checked_in", "pre_dose_checks", "dosing", "monitoring", "discharge_ready", "discharged",
        ]  # fmt: skip
        assert s.discharged_at is not None and s.first_dose_at < s.discharged_at
        assert reconciliation_problems(s) == []
        kinds = set(LedgerEntry.objects.filter(session=s).values_list("entry_type", flat=True))
        assert {int(EntryType.WITHDRAWAL), int(EntryType.ADMINISTRATION)} <= kinds
        (row,) = reconciliation(s)
        assert row.withdrawn == row.administered + row.wasted and row.returned == 0
        if s.order.drug == "ketamine":  # one 10 mL vial of 50 mg/mL; what was not given is wasted
            assert row.withdrawn == Decimal("10.000")
            assert row.administered == (s.order.dose_mg / 50).quantize(Decimal("0.001"))
            assert int(EntryType.WASTE) in kinds
    assert Administration.objects.filter(ledger_entry__isnull=True).count() == 0
    assert Administration.objects.filter(guard_decision="block").count() == 0
    assert unreconciled_sessions(ctx.clinic) == []
    assert chain_verify().ok
    assert RemsMonitoringForm.objects.filter(submitted_at__isnull=False).count() == 1
    # Assessment-history patients: baseline before the first dose; PHQ-9 responses and remissions appear.
    responders, remitters = 0, 0
    for h in ctx.extra["assessment_history"]:
        p = h["patient"]
        first = DosingSession.objects.filter(patient=p, first_dose_at__isnull=False).order_by("first_dose_at")
        if not first.exists():
            continue
        phq = next(t for t in trends_for_patient(p) if t.definition.id == "phq9")
        assert phq.outcome.baseline is not None and phq.outcome.baseline.at <= first[0].first_dose_at
        responders += phq.outcome.response is True
        remitters += phq.outcome.remission is True
    assert responders >= 3 and remitters >= 2
    assert seed_demo() is None
