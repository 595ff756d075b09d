"""Demo telehealth data: licences, consents, completed in-person evaluations and upcoming video and telephone visits."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ketaclinic.web.telehealth import actions
from ketaclinic.web.telehealth.models import ClinicianLicence

if TYPE_CHECKING:
    from ketaclinic.web.demo import DemoContext


def seed(ctx: DemoContext) -> None:
    admin = ctx.staff["admin.jones"]
    licences = {"dr.patel": ["US-CA", "US-NV"], "dr.okafor": ["US-CA"], "therapist.ng": ["US-CA"]}
    for username, places in licences.items():
        user = ctx.staff.get(username)
        if user is None:
            continue
        for j in places:
            ClinicianLicence.objects.create(
                clinic=ctx.clinic, user=user, jurisdiction=j, recorded_by=admin, recorded_at=ctx.now
            )
    doctor = ctx.staff["dr.patel"]
    therapist = ctx.staff.get("therapist.ng", doctor)
    for k, patient in enumerate(ctx.patients[:6]):
        actions.do_record_telehealth_consent(actor=doctor, patient_id=patient.pk, method="written")
        evaluation = actions.do_schedule_visit(
            actor=doctor,
            patient_id=patient.pk,
            clinician_id=doctor.pk,
            scheduled_for=ctx.now - dt.timedelta(days=30 + k),
            modality="in_person",
            patient_jurisdiction="US-CA",
            activity="evaluation",
        )
        actions.do_close_visit(actor=doctor, visit_id=evaluation.pk, completed=True)
        actions.do_schedule_visit(
            actor=doctor,
            patient_id=patient.pk,
            clinician_id=doctor.pk,
            scheduled_for=ctx.now + dt.timedelta(days=2 + k, hours=1),
            modality="video",
            patient_jurisdiction="US-NV" if k % 3 == 2 else "US-CA",
            activity="follow_up",
            video_link=f"https://video.example.invalid/riverside/room-{k + 1}",
        )
        actions.do_schedule_visit(
            actor=therapist,
            patient_id=patient.pk,
            clinician_id=therapist.pk,
            scheduled_for=ctx.now + dt.timedelta(days=4 + k, hours=3),
            modality="telephone",
            patient_jurisdiction="US-CA",
            activity="therapy",
        )
