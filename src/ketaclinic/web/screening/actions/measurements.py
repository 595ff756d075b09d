"""Intake measurements: blood pressure, pregnancy status and weight (each re-screens the patient)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.fhir.intake import build as fhir_build
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.screening.actions.common import _check_resource, _rerun, _save_item, _write_item
from ketaclinic.web.screening.models import IntakeItem, ScreeningRun

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User


def _bp_resource(
    systolic: Any, diastolic: Any, measured_at: dt.datetime | None, errors: dict[str, list[str]]
) -> tuple[dict[str, Any], str] | None:
    """The FHIR blood-pressure panel (LOINC 85354-9, mm[Hg]) and its summary; problems go into `errors`."""
    values: dict[str, int] = {}
    for field, raw, lo, hi in (("systolic", systolic, 50, 300), ("diastolic", diastolic, 20, 200)):
        try:
            v = int(str(raw).strip())
        except ValueError:
            errors[field] = ["must be a whole number of mmHg"]
            continue
        if not lo <= v <= hi:
            errors[field] = [f"must be between {lo} and {hi} mm[Hg]"]
        values[field] = v
    _check_when(measured_at, errors)
    if len(values) != 2 or any(k in errors for k in ("systolic", "diastolic", "measured_at")):
        return None

    when = measured_at or timezone.now()
    resource = fhir_build.blood_pressure_panel(
        resource_id=f"bp-{uuid.uuid4().hex[:12]}",
        systolic=values["systolic"],
        diastolic=values["diastolic"],
        effective=when,
    )
    return resource, f"BP {values['systolic']}/{values['diastolic']} mm[Hg]"


def _check_when(measured_at: dt.datetime | None, errors: dict[str, list[str]]) -> None:
    when = measured_at or timezone.now()
    if timezone.is_naive(when):
        errors["measured_at"] = ["must include a timezone"]
    elif when > timezone.now() + dt.timedelta(minutes=5):
        errors["measured_at"] = ["cannot be in the future"]


def _pregnancy_resource(pregnant: bool, measured_at: dt.datetime | None) -> tuple[dict[str, Any], str]:
    when = measured_at or timezone.now()
    resource = fhir_build.pregnancy_status(
        resource_id=f"ps-{uuid.uuid4().hex[:12]}", pregnant=pregnant, effective=when
    )
    return resource, "pregnant" if pregnant else "not pregnant"


def do_record_blood_pressure(
    *,
    actor: User,
    patient_id: int,
    systolic: Any,
    diastolic: Any,
    measured_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> IntakeItem:
    """Record a blood pressure in mm[Hg] (LOINC 85354-9 panel), then re-screen."""
    errors: dict[str, list[str]] = {}
    built = _bp_resource(systolic, diastolic, measured_at, errors)
    if errors or built is None:
        raise ValidationFailed(errors)
    resource, summary = built
    return _write_item(actor, patient_id, resource, summary, request)


PREGNANCY_CHOICES = {"": None, "pregnant": True, "not_pregnant": False}


def do_record_vitals(
    *,
    actor: User,
    patient_id: int,
    systolic: Any = "",
    diastolic: Any = "",
    weight_kg: Any = "",
    pregnancy: Any = "",
    measured_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> ScreeningRun:
    """The vitals form: any of blood pressure, weight and pregnancy status, validated together and stored all or
    nothing in one transaction with a single re-screen."""
    from ketaclinic.web.patients.actions import do_record_weight, parse_weight

    def blank(v: Any) -> bool:
        return v is None or str(v).strip() == ""

    errors: dict[str, list[str]] = {}
    bp = None
    if not (blank(systolic) and blank(diastolic)):
        bp = _bp_resource(systolic, diastolic, measured_at, errors)
    if not blank(weight_kg):
        _w, werr = parse_weight(weight_kg)
        if werr:
            errors["weight_kg"] = werr
    pregnancy = "" if pregnancy is None else str(pregnancy)
    if pregnancy not in PREGNANCY_CHOICES:
        errors["pregnancy"] = ["must be pregnant, not_pregnant or left empty"]
    elif bp is None and blank(weight_kg) and pregnancy == "" and not errors:
        errors["vitals"] = ["enter a blood pressure, a weight or a pregnancy status"]
    _check_when(measured_at, errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        resources_: list[tuple[dict[str, Any], str]] = []
        if bp is not None:
            resources_.append(bp)
        if PREGNANCY_CHOICES[pregnancy] is not None:
            resources_.append(_pregnancy_resource(bool(PREGNANCY_CHOICES[pregnancy]), measured_at))
        for resource, summary in resources_:
            _check_resource(patient, resource, "resource")
            _save_item(
                patient, actor=actor, resource=resource, summary=summary, source="form", request=request
            )
        if not blank(weight_kg):
            do_record_weight(
                actor=actor,
                patient_id=patient.pk,
                weight_kg=weight_kg,
                measured_at=measured_at,
                source="screening",
                request=request,
            )
        return _rerun(patient, actor=actor, trigger="intake:vitals", request=request)


def do_record_intake_weight(
    *,
    actor: User,
    patient_id: int,
    weight_kg: Any,
    measured_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> ScreeningRun:
    """Record a weight through the patients app's action, then re-screen (one transaction)."""
    from ketaclinic.web.patients.actions import do_record_weight

    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None, request=request, for_update=True
        )
        do_record_weight(
            actor=actor,
            patient_id=patient.pk,
            weight_kg=weight_kg,
            measured_at=measured_at,
            source="screening",
            request=request,
        )
        return _rerun(patient, actor=actor, trigger="weight", request=request)
