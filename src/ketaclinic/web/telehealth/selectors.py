"""Reads for telehealth: a clinic's policy, consent and evaluations on file, licences, and the rules' inputs for a visit."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from ketaclinic.core.telehealth import ClinicPolicy, Visit, parse_policy
from ketaclinic.web.telehealth.models import ClinicianLicence, TelehealthConsent, TelehealthPolicy
from ketaclinic.web.telehealth.models import Visit as VisitRecord

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient


def telehealth_policy_for(clinic: Clinic) -> ClinicPolicy:
    """The clinic's tightening policy, or the defaults (no tightening)."""
    row = TelehealthPolicy.objects.filter(clinic=clinic).first()
    return parse_policy(row.policy) if row is not None else ClinicPolicy()


def consent_on_file(patient: Patient, at: dt.datetime) -> TelehealthConsent | None:
    """The latest consent to telehealth given at or before `at` and not withdrawn by then."""
    return (
        TelehealthConsent.objects.filter(patient=patient, given_at__lte=at)
        .filter(Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gt=at))
        .order_by("-given_at", "-pk")
        .first()
    )


def consents_for_patient(patient: Patient) -> QuerySet[TelehealthConsent]:
    return TelehealthConsent.objects.filter(patient=patient).select_related("recorded_by", "withdrawn_by")


def in_person_evaluation_dates(patient: Patient) -> tuple[dt.date, ...]:
    """Local dates of the patient's completed in-person evaluation visits, oldest first."""
    times = VisitRecord.objects.filter(
        patient=patient,
        modality=VisitRecord.Modality.IN_PERSON,
        activity=VisitRecord.Activity.EVALUATION,
        status=VisitRecord.Status.COMPLETED,
    ).values_list("scheduled_for", flat=True)
    return tuple(sorted({timezone.localdate(t) for t in times}))


def first_dose_date(patient: Patient) -> dt.date | None:
    """Local date of the first dose of the patient's active course, if one has been given."""
    from ketaclinic.web.treatment.selectors import sessions_for_patient

    first = (
        sessions_for_patient(patient)
        .filter(course__status="active", first_dose_at__isnull=False)
        .order_by("first_dose_at")
        .values_list("first_dose_at", flat=True)
        .first()
    )
    return timezone.localdate(first) if first is not None else None


def clinician_jurisdictions(clinic: Clinic, user: Any, on: dt.date) -> frozenset[str] | None:
    """Jurisdictions where `user` holds a licence valid on `on` (None when none is on file at all)."""
    rows = list(
        ClinicianLicence.objects.filter(clinic=clinic, user=user).values_list("jurisdiction", "expires_on")
    )
    if not rows:
        return None
    return frozenset(j for j, exp in rows if exp is None or exp >= on)


def licences_for_clinic(clinic: Clinic) -> QuerySet[ClinicianLicence]:
    return ClinicianLicence.objects.filter(clinic=clinic).select_related("user")


def visit_inputs(
    *,
    patient: Patient,
    clinician: Any,
    scheduled_for: dt.datetime,
    modality: str,
    jurisdiction: str,
    activity: str,
    drug: str,
    records_access: bool | None,
) -> tuple[Visit, TelehealthConsent | None]:
    """The core engine's Visit for these details, from what is on file, and the consent it relied on."""
    on = timezone.localdate(scheduled_for)
    consent = consent_on_file(patient, scheduled_for)
    visit = Visit(
        on=on,
        modality=modality,  # type: ignore[arg-type]
        jurisdiction=jurisdiction,
        activity=activity,  # type: ignore[arg-type]
        drug=drug or None,  # type: ignore[arg-type]
        in_person_evaluations=in_person_evaluation_dates(patient),
        first_dose_on=first_dose_date(patient),
        clinician_jurisdictions=clinician_jurisdictions(patient.clinic, clinician, on),
        records_access=records_access,
        telehealth_consent=consent is not None,
    )
    return visit, consent


def visits_for_patient(patient: Patient) -> QuerySet[VisitRecord]:
    return VisitRecord.objects.filter(patient=patient).select_related("clinician", "created_by", "consent")


def upcoming_visits(patient: Patient, *, now: dt.datetime | None = None) -> QuerySet[VisitRecord]:
    """Scheduled, allowed visits from now on, soonest first (the patient's page lists them)."""
    return (
        visits_for_patient(patient)
        .filter(status=VisitRecord.Status.SCHEDULED, scheduled_for__gte=now or timezone.now())
        .exclude(decision=VisitRecord.Decision.NOT_ALLOWED)
        .order_by("scheduled_for", "pk")
    )
