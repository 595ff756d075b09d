"""Writes of the patient registry: create, edit (with history), weights, care team."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, require_perm
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed, field_errors_from_django
from ketaclinic.web.patients.models import (
    CareTeamMember,
    Patient,
    PatientVersion,
    SexAtBirth,
    WeightMeasurement,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ketaclinic.web.accounts.models import User

EDITABLE_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex_at_birth",
    "phone",
    "email",
    "address_line",
    "city",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "referring_clinician",
    "referring_clinician_contact",
)
REQUIRED_FIELDS = ("mrn", "given_name", "family_name", "birth_date", "sex_at_birth")
MIN_BIRTH_DATE = dt.date(1900, 1, 1)
# Plausible adult/paediatric body weight bounds for data entry (not a dosing rule).
MIN_WEIGHT_KG = Decimal("2.0")
MAX_WEIGHT_KG = Decimal("400.0")


def _snapshot(patient: Patient) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        value = getattr(patient, name)
        data[name] = value.isoformat() if isinstance(value, dt.date) else value
    data["home_site_id"] = patient.home_site_id
    return data


def _clean_values(values: Mapping[str, object]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalise raw input (strings from forms or JSON) field by field, collecting every error."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    unknown = set(values) - set(EDITABLE_FIELDS) - {"home_site_id"}
    for name in sorted(unknown):
        errors[name] = ["is not a patient field"]
    for name in EDITABLE_FIELDS:
        if name not in values:
            continue
        raw = values[name]
        if name == "birth_date":
            if isinstance(raw, dt.date):
                cleaned[name] = raw
            elif raw is None or not str(raw).strip():
                cleaned[name] = None
                errors[name] = ["is required"]
            else:
                try:
                    cleaned[name] = dt.date.fromisoformat(str(raw).strip())
                except ValueError:
                    errors[name] = ["must be a date in YYYY-MM-DD format"]
            continue
        cleaned[name] = "" if raw is None else str(raw).strip()
    if "sex_at_birth" in cleaned and cleaned["sex_at_birth"] not in SexAtBirth.values:
        errors["sex_at_birth"] = [f"must be one of {', '.join(SexAtBirth.values)}"]
    if cleaned.get("birth_date") is not None:
        today = timezone.localdate()
        if cleaned["birth_date"] > today:
            errors["birth_date"] = ["cannot be in the future"]
        elif cleaned["birth_date"] < MIN_BIRTH_DATE:
            errors["birth_date"] = [f"cannot be before {MIN_BIRTH_DATE.isoformat()}"]
    if "home_site_id" in values:
        cleaned["home_site_id"] = values["home_site_id"] or None
    return cleaned, errors


def _validate_patient(patient: Patient, errors: dict[str, list[str]]) -> None:
    for name in REQUIRED_FIELDS:
        if getattr(patient, name) in ("", None) and name not in errors:
            errors[name] = ["is required"]
    try:
        patient.full_clean(exclude=["clinic", "home_site", *errors.keys()], validate_unique=False)
    except DjangoValidationError as exc:
        for key, msgs in field_errors_from_django(exc).items():
            errors.setdefault(key, []).extend(msgs)
    if patient.mrn and "mrn" not in errors:
        clash = Patient.objects.filter(clinic_id=patient.clinic_id, mrn__iexact=patient.mrn).exclude(
            pk=patient.pk
        )
        if clash.exists():
            errors["mrn"] = [f"MRN {patient.mrn!r} is already used by another patient in this clinic"]
    if (
        patient.home_site_id is not None
        and "home_site_id" not in errors
        and not Site.objects.filter(pk=patient.home_site_id, clinic_id=patient.clinic_id).exists()
    ):
        errors["home_site_id"] = ["must be a site of this clinic"]
    if errors:
        raise ValidationFailed(errors)


def _write_version(patient: Patient, *, actor: User, changed: list[str]) -> None:
    PatientVersion.objects.create(
        patient=patient,
        version=patient.version,
        snapshot=_snapshot(patient),
        changed_fields=changed,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
        changed_at=timezone.now(),
    )


def do_create_patient(
    *,
    actor: User,
    clinic: Clinic,
    values: Mapping[str, object],
    request: HttpRequest | None = None,
    is_synthetic: bool = False,
    initial_weight_kg: Any = None,
) -> Patient:
    """Register a patient in `clinic`, with today's weight when one is given (`initial_weight_kg`).

    Raises ValidationFailed naming every bad field, the weight included; nothing is saved then.
    """
    require_perm(actor, clinic, Perm.PATIENT_EDIT)
    cleaned, errors = _clean_values(values)
    weight = None
    if initial_weight_kg not in (None, ""):
        weight, werr = parse_weight(initial_weight_kg)
        if werr:
            errors["initial_weight_kg"] = werr
    patient = Patient(clinic=clinic, is_synthetic=is_synthetic, **cleaned)
    _validate_patient(patient, errors)
    with transaction.atomic():
        patient.save()
        _write_version(patient, actor=actor, changed=sorted(cleaned))
        record_audit(
            actor=actor,
            action=AuditAction.PATIENT_CREATE,
            obj=patient,
            request=request,
            detail={"fields": sorted(cleaned)},
        )
        if weight is not None:
            when = timezone.now()
            row = WeightMeasurement.objects.create(
                patient=patient,
                weight_kg=weight,
                measured_at=when,
                source="registration",
                recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            record_audit(
                actor=actor,
                action=AuditAction.PATIENT_WEIGHT_RECORD,
                obj=row,
                patient=patient,
                request=request,
                detail={"weight_kg": str(weight), "measured_at": when.isoformat()},
            )
    return patient


def do_update_patient(
    *, actor: User, patient_id: int, values: Mapping[str, object], request: HttpRequest | None = None
) -> Patient:
    """Change some demographics. Keeps the previous state in PatientVersion; the audit row lists old and new."""
    cleaned, errors = _clean_values(values)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.PATIENT_EDIT, audit_action=None, for_update=True, request=request
        )
        before = _snapshot(patient)
        for name, value in cleaned.items():
            setattr(patient, name, value)
        _validate_patient(patient, errors)
        after = _snapshot(patient)
        changed = sorted(k for k in after if after[k] != before[k])
        if not changed:
            return patient
        patient.version += 1
        patient.save()
        _write_version(patient, actor=actor, changed=changed)
        record_audit(
            actor=actor,
            action=AuditAction.PATIENT_UPDATE,
            obj=patient,
            request=request,
            detail={"changes": {k: [before[k], after[k]] for k in changed}, "version": patient.version},
        )
    return patient


def parse_weight(raw: Any) -> tuple[Decimal | None, list[str]]:
    try:
        weight = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None, ["must be a number of kilograms"]
    if not weight.is_finite():
        return None, ["must be a number of kilograms"]
    if weight < MIN_WEIGHT_KG or weight > MAX_WEIGHT_KG:
        return None, [f"must be between {MIN_WEIGHT_KG} and {MAX_WEIGHT_KG} kg"]
    return weight.quantize(Decimal("0.1")), []


def do_record_weight(
    *,
    actor: User,
    patient_id: int,
    weight_kg: Any,
    measured_at: dt.datetime | None = None,
    source: str = "clinic",
    request: HttpRequest | None = None,
) -> WeightMeasurement:
    """Add a dated body weight to the patient's history."""
    errors: dict[str, list[str]] = {}
    weight, werr = parse_weight(weight_kg)
    if werr:
        errors["weight_kg"] = werr
    when = measured_at or timezone.now()
    if timezone.is_naive(when):
        errors["measured_at"] = ["must include a timezone"]
    elif when > timezone.now() + dt.timedelta(minutes=5):
        errors["measured_at"] = ["cannot be in the future"]
    if errors or weight is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.PATIENT_EDIT, audit_action=None, request=request
        )
        row = WeightMeasurement.objects.create(
            patient=patient,
            weight_kg=weight,
            measured_at=when,
            source=source,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record_audit(
            actor=actor,
            action=AuditAction.PATIENT_WEIGHT_RECORD,
            obj=row,
            patient=patient,
            request=request,
            detail={"weight_kg": str(weight), "measured_at": when.isoformat()},
        )
    return row


def do_add_care_team_member(
    *, actor: User, patient_id: int, user_id: int, team_role: str, request: HttpRequest | None = None
) -> CareTeamMember:
    from ketaclinic.web.accounts.models import User

    errors: dict[str, list[str]] = {}
    if team_role not in CareTeamMember.TeamRole.values:
        errors["team_role"] = [f"must be one of {', '.join(CareTeamMember.TeamRole.values)}"]
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.PATIENT_EDIT, audit_action=None, request=request
        )
        member = User.objects.filter(pk=user_id, is_active=True).first()
        if member is None or not has_perm_in_clinic(member, patient.clinic, Perm.PATIENT_VIEW):
            errors["user_id"] = ["must be active staff of this patient's clinic"]
        if errors or member is None:
            raise ValidationFailed(errors)
        row, created = CareTeamMember.objects.get_or_create(patient=patient, user=member, team_role=team_role)
        if created:
            record_audit(
                actor=actor,
                action=AuditAction.PATIENT_CARE_TEAM_ADD,
                obj=row,
                patient=patient,
                request=request,
                detail={"user": member.username, "team_role": team_role},
            )
    return row
