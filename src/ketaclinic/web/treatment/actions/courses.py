"""Treatment courses, signed orders, scheduled sessions and clinic protocols."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.protocols import (
    Dose,
    Protocol,
    ProtocolError,
    get_protocol,
    missing_guard_rails,
    parse_protocol,
)
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, require_perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed, failed_from_core
from ketaclinic.web.treatment.actions.common import S, _aware, _decimal, _duration_min, _enforce_guard, _guard
from ketaclinic.web.treatment.models import (
    ClinicProtocol,
    DosingSession,
    Order,
    TreatmentCourse,
)
from ketaclinic.web.treatment.selectors import (
    CONSENT_PRODUCT,
    consent_indications,
    course_protocol,
    dose_history,
    latest_weight_for,
    resolve_protocol,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic, Site
    from ketaclinic.web.patients.models import Patient


def _screening_cleared(patient: Patient) -> bool:
    from ketaclinic.web.screening.selectors import screening_is_cleared

    return bool(screening_is_cleared(patient))


def _consent_on_file(patient: Patient, protocol: Protocol, indication: str) -> bool:
    from ketaclinic.web.screening.selectors import consent_on_file

    product = CONSENT_PRODUCT.get(protocol.drug)
    if product is None:
        return False
    return bool(consent_on_file(patient, indication=indication, product=product))


def do_start_course(
    *,
    actor: User,
    patient_id: int,
    protocol_id: str,
    indication: str,
    rems_patient_enrolled: bool = False,
    rems_patient_id: str = "",
    request: HttpRequest | None = None,
) -> TreatmentCourse:
    """A prescriber starts a course on a protocol, only when screening is cleared and consent is on file."""
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.COURSE_MANAGE, audit_action=None, for_update=True
        )
        errors: dict[str, list[str]] = {}
        indication = (indication or "").strip()
        indications = consent_indications()
        if not indication:
            errors["indication"] = ["is required"]
        elif indication not in indications:
            errors["indication"] = [f"must be one of {', '.join(indications)}"]
        protocol = resolve_protocol(patient.clinic, protocol_id)
        if not _screening_cleared(patient):
            errors.setdefault("patient", []).append("screening is not cleared for this patient")
        elif "indication" not in errors and not _consent_on_file(patient, protocol, indication):
            errors.setdefault("patient", []).append(
                f"no signed consent on file for {indications[indication].lower()} with "
                f"{CONSENT_PRODUCT.get(protocol.drug, protocol.drug)}"
            )
        if TreatmentCourse.objects.filter(
            patient=patient, status=TreatmentCourse.Status.ACTIVE, protocol_id=protocol.id
        ).exists():
            errors.setdefault("protocol_id", []).append(
                "the patient already has an active course on this protocol"
            )
        if errors:
            raise ValidationFailed(errors)
        course = TreatmentCourse.objects.create(
            clinic=patient.clinic,
            patient=patient,
            protocol_id=protocol.id,
            protocol_version=protocol.version,
            protocol_snapshot=dict(protocol.raw),
            indication=indication,
            rems_patient_enrolled=bool(rems_patient_enrolled),
            rems_patient_id=(rems_patient_id or "").strip(),
            started_by=actor,
            started_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.COURSE_START,
            obj=course,
            patient=patient,
            request=request,
            detail={"protocol": protocol.id, "version": protocol.version},
        )
    return course


def do_sign_order(
    *,
    actor: User,
    course_id: int,
    planned_for: Any,
    dose_mg: Any = None,
    duration_min: Any = None,
    override_reason: str = "",
    request: HttpRequest | None = None,
) -> Order:
    """Compute (or accept) the dose from the latest weight, run the dose guard, and sign the order."""
    with transaction.atomic():
        course = (
            TreatmentCourse.objects.select_for_update().select_related("patient").filter(pk=course_id).first()
        )
        if course is None:
            raise NotFoundError("no such course")
        patient = access_patient_by_id(actor, course.patient_id, perm=Perm.ORDER_SIGN, audit_action=None)
        if course.status != TreatmentCourse.Status.ACTIVE:
            raise ConflictError("the course is not active", fields={"course": ["course is " + course.status]})
        protocol = course_protocol(course)
        errors: dict[str, list[str]] = {}
        when = _aware(planned_for, "planned_for", errors) or (
            None if "planned_for" in errors else timezone.now()
        )
        weight = latest_weight_for(patient)
        if weight is None:
            errors["weight"] = ["no weight on record: record a weight before ordering"]
        dur = _duration_min(duration_min, errors)
        if duration_min in (None, "") and protocol.infusion is not None:
            dur = int(protocol.infusion.default_duration_min.value)
        dose = _decimal(dose_mg, "dose_mg", errors, required=False)
        if errors:
            raise ValidationFailed(errors)
        assert when is not None and weight is not None
        if dose is None:
            dose = Decimal(str(protocol.default_dose_mg(float(weight.weight_kg))))
        dose = dose.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        proposed = Dose(
            time=when,
            drug=protocol.drug,
            route=protocol.routes[0],
            dose_mg=float(dose),
            duration_min=float(dur) if dur else None,
        )
        result = _guard(
            patient, protocol, weight.weight_kg, proposed, dose_history(patient), measurement=weight
        )
        _enforce_guard(result, actor=actor, clinic=patient.clinic, override_reason=override_reason)
        per_kg = (dose / weight.weight_kg).quantize(Decimal("0.001")) if protocol.weight_based else None
        order = Order.objects.create(
            course=course,
            patient=patient,
            drug=protocol.drug,
            route=protocol.routes[0],
            dose_mg=dose,
            dose_mg_per_kg=per_kg,
            duration_min=dur,
            weight_kg=weight.weight_kg,
            weight_measured_at=weight.measured_at,
            weight_measurement=weight,
            planned_for=when,
            guard_decision=result.decision,
            guard_findings=[f.to_dict() for f in result.findings],
            override_reason=override_reason.strip(),
            status=Order.Status.SIGNED,
            signed_by=actor,
            signed_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.ORDER_SIGN,
            obj=order,
            patient=patient,
            request=request,
            detail={
                "dose_mg": str(dose),
                "weight_kg": str(weight.weight_kg),
                "weight_measured_at": weight.measured_at.isoformat(),
                "guard": result.to_dict(),
                "override_reason": override_reason.strip(),
            },
        )
    return order


def do_schedule_session(
    *,
    actor: User,
    order_id: int,
    scheduled_for: Any,
    site_id: int | None = None,
    request: HttpRequest | None = None,
) -> DosingSession:
    with transaction.atomic():
        order = Order.objects.select_related("course", "patient").filter(pk=order_id).first()
        if order is None:
            raise NotFoundError("no such order")
        patient = access_patient_by_id(
            actor, order.patient_id, perm=Perm.SESSION_RUN, audit_action=None, for_update=True
        )
        errors: dict[str, list[str]] = {}
        when = _aware(scheduled_for, "scheduled_for", errors)
        if when is None and "scheduled_for" not in errors:
            errors["scheduled_for"] = ["is required"]
        if order.status != Order.Status.SIGNED:
            errors["order"] = ["the order is not signed"]
        if order.sessions.exclude(status=S.CANCELLED).exists():
            errors["order"] = ["this order already has a session"]
        site = None
        if site_id:
            site = patient.clinic.sites.filter(pk=site_id).first()
            if site is None:
                errors["site_id"] = ["no such site in this clinic"]
        if when is not None and "site_id" not in errors:
            clash = _same_day_session(patient, site or patient.home_site, when)
            if clash is not None:
                errors["scheduled_for"] = [clash]
        if errors or when is None:
            raise ValidationFailed(errors)
        session = DosingSession.objects.create(
            clinic=patient.clinic,
            site=site or patient.home_site,
            patient=patient,
            course=order.course,
            order=order,
            scheduled_for=when,
        )
        record_audit(
            actor=actor,
            action=AuditAction.SESSION_SCHEDULE,
            obj=session,
            patient=patient,
            request=request,
            detail={"order": order.pk, "scheduled_for": when.isoformat() if when else None},
        )
    return session


def _same_day_session(patient: Patient, site: Site | None, when: dt.datetime) -> str | None:
    """Why a session for `patient` at `when` would be a second one that day (the day in the site's time zone),
    or None. Called under the patient's row lock, so two bookings at once cannot both pass."""
    from ketaclinic.web.lib.timezones import zone_or_default

    zone = zone_or_default(getattr(site, "timezone", None))
    day = timezone.localtime(when, zone).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    other = (
        DosingSession.objects.filter(
            patient=patient, scheduled_for__gte=start, scheduled_for__lt=start + dt.timedelta(days=1)
        )
        .exclude(status=DosingSession.Status.CANCELLED)
        .order_by("scheduled_for", "pk")
        .first()
    )
    if other is None:
        return None
    at = timezone.localtime(other.scheduled_for, zone)
    return (
        f"{patient.full_name} already has a session on {day:%Y-%m-%d} (session {other.pk} at {at:%H:%M}, "
        f"{other.get_status_display().lower()}): one dosing session a day — choose another date or cancel that one"
    )


def do_sign_and_schedule(
    *,
    actor: User,
    course_id: int,
    planned_for: Any,
    dose_mg: Any = None,
    duration_min: Any = None,
    override_reason: str = "",
    request: HttpRequest | None = None,
) -> tuple[Order, DosingSession]:
    """Sign an order and book its session in one transaction: a refused booking (a second session the same
    day) leaves no signed order behind."""
    with transaction.atomic():
        order = do_sign_order(
            actor=actor,
            course_id=course_id,
            planned_for=planned_for,
            dose_mg=dose_mg,
            duration_min=duration_min,
            override_reason=override_reason,
            request=request,
        )
        session = do_schedule_session(
            actor=actor, order_id=order.pk, scheduled_for=order.planned_for, request=request
        )
    return order, session


def do_add_clinic_protocol(
    *, actor: User, clinic: Clinic, definition: Any, request: HttpRequest | None = None
) -> ClinicProtocol:
    """A clinic admin adds a protocol (validated exactly like the packaged ones)."""
    with transaction.atomic():
        require_perm(actor, clinic, Perm.CLINIC_ADMIN)
        try:
            proto = parse_protocol(definition)
        except ProtocolError as exc:
            raise failed_from_core(exc, field=f"definition.{exc.field}") from None
        missing = missing_guard_rails(proto)
        if missing:
            raise ValidationFailed(
                {f"definition.{m}": ["is required for a weight-based infusion protocol"] for m in missing}
            )
        try:
            get_protocol(proto.id)
            raise ValidationFailed({"definition.id": ["clashes with a packaged protocol id"]})
        except KeyError:
            pass
        if ClinicProtocol.objects.filter(clinic=clinic, protocol_id=proto.id).exists():
            raise ValidationFailed({"definition.id": ["this clinic already has a protocol with this id"]})
        cp = ClinicProtocol.objects.create(
            clinic=clinic, protocol_id=proto.id, definition=dict(proto.raw), created_by=actor
        )
        record_audit(
            actor=actor,
            action=AuditAction.PROTOCOL_ADD,
            obj=cp,
            clinic=clinic,
            request=request,
            detail={"protocol": proto.id, "version": proto.version},
        )
    return cp
