"""Pain programme writes: a course's pain indication, opioid lines (add, change dose, stop), overdose history,
naloxone offers and the last opioid dose before an infusion. Each validates every field, runs in one transaction
and writes its audit row there."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.pain.mme import MmeInputError, load_mme_table, parse_mme_request
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.pain.models import (
    CoursePainIndication,
    LastOpioidDose,
    NaloxoneOffer,
    OpioidMedication,
    OpioidRiskFactors,
    PainKind,
)
from ketaclinic.web.pain.selectors import PAIN_INDICATION

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User

#: Who records what: the medication list is intake (nurses and prescribers), the pain indication is the prescriber's.
LIST_PERM = Perm.SCREENING_RECORD
COURSE_PERM = Perm.COURSE_MANAGE
MAX_BACKDATE_DAYS = 365 * 20
#: The field of a medication line each core input error is about (core names "medications[0].<field>").
_CORE_FIELDS = {"name": "ingredient", "rxcui": "ingredient", "route": "route", "dose": "dose", "unit": "unit"}


def _decimal(raw: Any, field: str, errors: dict[str, list[str]], *, required: bool = True) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[field] = ["is required"]
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        errors[field] = [f"{raw!r} is not a number"]
        return None
    if not value.is_finite() or value <= 0:
        errors[field] = ["must be a number greater than 0"]
        return None
    if value >= 100000:
        errors[field] = ["is not plausible (100000 or more)"]
        return None
    return value


def _day(raw: Any, field: str, errors: dict[str, list[str]], *, required: bool = True) -> dt.date | None:
    if raw is None or raw == "":
        if required:
            errors[field] = ["is required"]
        return None
    day: dt.date
    if isinstance(raw, dt.datetime):
        day = raw.date()
    elif isinstance(raw, dt.date):
        day = raw
    else:
        try:
            day = dt.date.fromisoformat(str(raw))
        except ValueError:
            errors[field] = ["must be a date (YYYY-MM-DD)"]
            return None
    today = timezone.localdate()
    if day > today:
        errors[field] = ["is in the future"]
        return None
    if day < today - dt.timedelta(days=MAX_BACKDATE_DAYS):
        errors[field] = ["is more than 20 years ago"]
        return None
    return day


def _validated_line(
    *, rxcui: str, route: str, dose: Any, unit: str, doses_per_day: Any, errors: dict[str, list[str]]
) -> dict[str, Any] | None:
    """Check one line with the MME engine itself, so the list never stores what `ketaclinic mme` would refuse."""
    table = load_mme_table()
    if table.by_rxcui(str(rxcui)) is None:
        errors["ingredient"] = ["choose an opioid from the list"]
    if unit not in OpioidMedication.Unit.values:
        errors["unit"] = ["must be mg per dose or mcg/h (patch strength)"]
    dose_v = _decimal(dose, "dose", errors)
    dpd_v = _decimal(doses_per_day, "doses_per_day", errors, required=unit == "mg") if unit == "mg" else None
    if errors:
        return None
    med: dict[str, Any] = {"rxcui": str(rxcui), "route": route, "dose": float(dose_v or 0), "unit": unit}
    if dpd_v is not None:
        med["doses_per_day"] = float(dpd_v)
    try:
        parse_mme_request({"medications": [med]}, table)
    except MmeInputError as exc:
        field = exc.field.rsplit(".", 1)[-1]
        errors[_CORE_FIELDS.get(field, field)] = [exc.reason]
        return None
    opioid = table.by_rxcui(str(rxcui))
    assert opioid is not None
    return {
        "rxcui": opioid.rxcui,
        "ingredient": opioid.name,
        "route": table.route(route) or route,
        "dose": dose_v,
        "unit": unit,
        "doses_per_day": dpd_v,
    }


def do_add_opioid_medication(
    *,
    actor: User,
    patient_id: int,
    rxcui: str,
    route: str,
    dose: Any,
    unit: str,
    doses_per_day: Any = None,
    started_on: Any,
    request: HttpRequest | None = None,
) -> OpioidMedication:
    """Add an opioid the patient takes (RxNorm ingredient, route, dose, frequency, start day)."""
    errors: dict[str, list[str]] = {}
    line = _validated_line(
        rxcui=rxcui, route=route, dose=dose, unit=unit, doses_per_day=doses_per_day, errors=errors
    )
    start = _day(started_on, "started_on", errors)
    if errors or line is None or start is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=LIST_PERM, audit_action=None, request=request, for_update=True
        )
        med = OpioidMedication.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            started_on=start,
            recorded_by=actor,
            recorded_at=timezone.now(),
            **line,
        )
        record_audit(
            actor=actor,
            action=AuditAction.PAIN_OPIOID_ADD,
            obj=med,
            patient=patient,
            request=request,
            detail=_line_detail(med),
        )
    return med


def _line_detail(m: OpioidMedication) -> dict[str, Any]:
    return {
        "rxcui": m.rxcui,
        "route": m.route,
        "dose": str(m.dose),
        "unit": m.unit,
        "doses_per_day": None if m.doses_per_day is None else str(m.doses_per_day),
        "started_on": m.started_on.isoformat(),
        "stopped_on": m.stopped_on.isoformat() if m.stopped_on else None,
    }


def _line_for_update(
    actor: User, medication_id: int, request: HttpRequest | None
) -> tuple[Any, OpioidMedication]:
    med = OpioidMedication.objects.select_for_update().filter(pk=medication_id).first()
    if med is None:
        raise NotFoundError("no such medication")
    patient = access_patient_by_id(actor, med.patient_id, perm=LIST_PERM, audit_action=None, request=request)
    if med.stopped_on is not None:
        raise ConflictError(f"this medication was already stopped on {med.stopped_on:%Y-%m-%d}")
    return patient, med


def do_stop_opioid_medication(
    *, actor: User, medication_id: int, stopped_on: Any, reason: str, request: HttpRequest | None = None
) -> OpioidMedication:
    """Stop a line: `stopped_on` is the first day without it."""
    errors: dict[str, list[str]] = {}
    stop = _day(stopped_on, "stopped_on", errors)
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["is required"]
    elif len(reason) > 200:
        errors["reason"] = ["at most 200 characters"]
    if errors or stop is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient, med = _line_for_update(actor, medication_id, request)
        if stop <= med.started_on:
            raise ValidationFailed({"stopped_on": [f"must be after the start day {med.started_on:%Y-%m-%d}"]})
        med.stopped_on, med.stop_reason, med.stopped_by = stop, reason, actor
        med.save(update_fields=["stopped_on", "stop_reason", "stopped_by"])
        record_audit(
            actor=actor,
            action=AuditAction.PAIN_OPIOID_STOP,
            obj=med,
            patient=patient,
            request=request,
            detail={"stopped_on": stop.isoformat(), "reason": reason},
        )
    return med


def do_change_opioid_dose(
    *,
    actor: User,
    medication_id: int,
    dose: Any,
    doses_per_day: Any = None,
    changed_on: Any,
    request: HttpRequest | None = None,
) -> OpioidMedication:
    """A taper (or increase) step: the line stops on `changed_on` and a new line with the new dose starts that day."""
    with transaction.atomic():
        patient, old = _line_for_update(actor, medication_id, request)
        errors: dict[str, list[str]] = {}
        change = _day(changed_on, "changed_on", errors)
        line = _validated_line(
            rxcui=old.rxcui,
            route=old.route,
            dose=dose,
            unit=old.unit,
            doses_per_day=doses_per_day,
            errors=errors,
        )
        if change is not None and change <= old.started_on:
            errors["changed_on"] = [f"must be after the start day {old.started_on:%Y-%m-%d}"]
        if line is not None and line["dose"] == old.dose and line["doses_per_day"] == old.doses_per_day:
            errors["dose"] = ["is the same as the current dose"]
        if errors or line is None or change is None:
            raise ValidationFailed(errors)
        old.stopped_on, old.stop_reason, old.stopped_by = change, "dose changed", actor
        old.save(update_fields=["stopped_on", "stop_reason", "stopped_by"])
        new = OpioidMedication.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            started_on=change,
            replaces=old,
            recorded_by=actor,
            recorded_at=timezone.now(),
            **line,
        )
        record_audit(
            actor=actor,
            action=AuditAction.PAIN_OPIOID_DOSE_CHANGE,
            obj=new,
            patient=patient,
            request=request,
            detail={"replaces": old.pk, **_line_detail(new)},
        )
    return new


def do_set_overdose_history(
    *, actor: User, patient_id: int, overdose_history: bool | None, request: HttpRequest | None = None
) -> OpioidRiskFactors:
    if not isinstance(overdose_history, bool):
        raise ValidationFailed({"overdose_history": ["must be yes or no"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=LIST_PERM, audit_action=None, request=request, for_update=True
        )
        row, _ = OpioidRiskFactors.objects.update_or_create(
            patient=patient,
            defaults={
                "clinic_id": patient.clinic_id,
                "overdose_history": overdose_history,
                "updated_by": actor,
                "updated_at": timezone.now(),
            },
        )
        record_audit(
            actor=actor,
            action=AuditAction.PAIN_OVERDOSE_HISTORY_SET,
            obj=row,
            patient=patient,
            request=request,
            detail={"overdose_history": overdose_history},
        )
    return row


def do_record_naloxone_offer(
    *, actor: User, patient_id: int, outcome: str, request: HttpRequest | None = None
) -> NaloxoneOffer:
    if outcome not in NaloxoneOffer.Outcome.values:
        raise ValidationFailed({"outcome": ["must be accepted, already has naloxone, or declined"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=LIST_PERM, audit_action=None, request=request, for_update=True
        )
        offer = NaloxoneOffer.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            outcome=outcome,
            offered_at=timezone.now(),
            recorded_by=actor,
        )
        record_audit(
            actor=actor, action=AuditAction.PAIN_NALOXONE_OFFER, obj=offer, patient=patient, request=request,
            detail={"outcome": outcome},
        )  # fmt: skip
    return offer


def do_set_pain_indication(
    *, actor: User, course_id: int, kind: str, detail: str = "", request: HttpRequest | None = None
) -> CoursePainIndication:
    """Say which chronic pain a course for chronic pain treats (CRPS, neuropathic, fibromyalgia, migraine, other)."""
    from ketaclinic.web.treatment.models import TreatmentCourse

    errors: dict[str, list[str]] = {}
    detail = (detail or "").strip()
    if kind not in PainKind.values:
        errors["kind"] = [f"must be one of {', '.join(PainKind.labels)}"]
    if kind == PainKind.OTHER and not detail:
        errors["detail"] = ["say which pain when the kind is other"]
    if len(detail) > 200:
        errors["detail"] = ["at most 200 characters"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        course = TreatmentCourse.objects.select_for_update().filter(pk=course_id).first()
        if course is None:
            raise NotFoundError("no such course")
        patient = access_patient_by_id(
            actor, course.patient_id, perm=COURSE_PERM, audit_action=None, request=request
        )
        if course.indication != PAIN_INDICATION:
            raise ValidationFailed({"course": ["this course is not for chronic pain"]})
        row, created = CoursePainIndication.objects.update_or_create(
            course=course,
            defaults={
                "clinic_id": patient.clinic_id,
                "patient": patient,
                "kind": kind,
                "detail": detail,
                "recorded_by": actor,
                "recorded_at": timezone.now(),
            },
        )
        record_audit(
            actor=actor,
            action=AuditAction.PAIN_INDICATION_SET,
            obj=row,
            patient=patient,
            request=request,
            detail={"course": course.pk, "kind": kind, "detail": detail, "created": created},
        )
    return row


def do_record_last_opioid_dose(
    *,
    actor: User,
    session_id: int,
    medication_id: int | None,
    taken_at: dt.datetime | None,
    none_today: bool = False,
    request: HttpRequest | None = None,
) -> LastOpioidDose:
    """Before an infusion: which opioid the patient last took and when (or that none was taken in the last day)."""
    from ketaclinic.web.treatment.models import DosingSession

    errors: dict[str, list[str]] = {}
    now = timezone.now()
    if not none_today:
        if medication_id is None:
            errors["medication"] = [
                "choose the opioid taken, or record that none was taken in the last 24 hours"
            ]
        if taken_at is None:
            errors["taken_at"] = ["is required"]
        elif timezone.is_naive(taken_at):
            errors["taken_at"] = ["must carry a time zone"]
        elif taken_at > now + dt.timedelta(minutes=5):
            errors["taken_at"] = ["is in the future"]
        elif taken_at < now - dt.timedelta(days=7):
            errors["taken_at"] = ["is more than 7 days ago"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        session = DosingSession.objects.select_for_update().filter(pk=session_id).first()
        if session is None:
            raise NotFoundError("no such session")
        patient = access_patient_by_id(
            actor, session.patient_id, perm=Perm.SESSION_RUN, audit_action=None, request=request
        )
        if session.status not in ("scheduled", "checked_in", "pre_dose_checks"):
            raise ConflictError("the last opioid dose is recorded before the infusion starts")
        med = None
        if medication_id is not None and not none_today:
            med = OpioidMedication.objects.filter(pk=medication_id, patient=patient).first()
            if med is None:
                raise ValidationFailed({"medication": ["is not on this patient's opioid list"]})
        row = LastOpioidDose.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            session=session,
            medication=med,
            none_today=none_today,
            taken_at=None if none_today else taken_at,
            recorded_by=actor,
            recorded_at=now,
        )
        record_audit(
            actor=actor,
            action=AuditAction.PAIN_LAST_OPIOID_DOSE,
            obj=row,
            patient=patient,
            request=request,
            detail={
                "session": session.pk,
                "medication": med.pk if med else None,
                "taken_at": taken_at.isoformat() if taken_at and not none_today else None,
                "none_today": none_today,
            },
        )
    return row
