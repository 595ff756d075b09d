"""The treatment demo seed: made through the real actions, consistent, and shown on the board."""

from __future__ import annotations

import pytest

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.demo import seed_demo
from ketaclinic.web.screening.selectors import screening_is_cleared
from ketaclinic.web.treatment.models import (
    Administration,
    DosingSession,
    RemsMonitoringForm,
    SessionTransition,
    TreatmentCourse,
)

pytestmark = pytest.mark.django_db


def test_demo_seed_makes_cleared_patients_with_courses_and_sessions() -> None:
    ctx = seed_demo(patients=16)
    assert ctx is not None
    courses = list(TreatmentCourse.objects.filter(clinic=ctx.clinic).order_by("pk"))
    assert sorted(c.protocol_id for c in courses) == ["esketamine-trd"] * 2 + ["iv-racemic-depression"] * 3
    for c in courses:
        assert screening_is_cleared(c.patient)
        assert c.patient.consents.count() == 1
    by_status: dict[str, int] = {}
    for s in DosingSession.objects.filter(clinic=ctx.clinic):
        by_status[s.status] = by_status.get(s.status, 0) + 1
    # IV: 3 patients x 3 completed + today (1 checked in, 2 scheduled); esketamine: 2 + 3 completed + 2 today.
    assert by_status == {"discharged": 14, "checked_in": 1, "scheduled": 4}
    # Each discharged session went through every state, once.
    for s in DosingSession.objects.filter(status="discharged"):
        assert [t.to_status for t in s.transitions.all()] == [
            "checked_in", "pre_dose_checks", "dosing", "monitoring", "discharge_ready", "discharged",
        ]  # fmt: skip
        assert s.discharged_at is not None and s.first_dose_at < s.discharged_at
    assert Administration.objects.filter(drug="esketamine").count() == 2 * 2 + (2 + 2 + 3)
    assert Administration.objects.filter(guard_decision="block").count() == 0
    forms = RemsMonitoringForm.objects.all()
    assert forms.count() == 5
    assert forms.filter(submitted_at__isnull=False).count() == 1
    assert AuditEvent.objects.filter(action="course.start").count() == 5
    assert AuditEvent.objects.filter(action="screening.consent_record").count() == 5
    assert SessionTransition.objects.count() == 14 * 6 + 1
    assert seed_demo(patients=16) is None
