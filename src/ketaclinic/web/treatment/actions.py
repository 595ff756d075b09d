"""Writes of the treatment domain: courses, signed orders, the dosing-session state machine and its records.

Every action validates, runs in one transaction with its audit row, and changes nothing when it raises.
The dose guard (`ketaclinic.core.protocols.check_dose`) guards every order and every administration:
`block` is refused; `warn` needs a prescriber's written reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.protocols import (
    Dose,
    DoseCheckResult,
    DoseRequest,
    DoseRequestError,
    PatientFacts,
    Protocol,
    ProtocolError,
    check_dose,
    get_protocol,
    missing_guard_rails,
    parse_protocol,
)
from ketaclinic.core.protocols.monitoring import (
    DischargeDecision,
    DischargeInput,
    VitalAlert,
    Vitals,
    evaluate_discharge,
    evaluate_sedation,
    evaluate_vitals,
)
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, require_perm
from ketaclinic.web.lib.access import access_patient_by_id
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group
from ketaclinic.web.treatment.models import (
    Administration,
    ClinicProtocol,
    DosingSession,
    Intervention,
    Order,
    RemsMonitoringForm,
    ScaleReading,
    SessionAlert,
    SessionTransition,
    SideEffect,
    TreatmentCourse,
    VitalSign,
)

S = DosingSession.Status

# The session state machine: allowed next states from each state.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CHECKED_IN, S.CANCELLED}),
    S.CHECKED_IN: frozenset({S.PRE_DOSE_CHECKS, S.CANCELLED}),
    S.PRE_DOSE_CHECKS: frozenset({S.DOSING, S.CANCELLED}),
    S.DOSING: frozenset({S.MONITORING}),
    S.MONITORING: frozenset({S.DISCHARGE_READY}),
    S.DISCHARGE_READY: frozenset({S.DISCHARGED, S.MONITORING}),
    S.DISCHARGED: frozenset(),
    S.CANCELLED: frozenset(),
}

REMS_FORM_DAYS = 7  # SPRAVATO REMS: submit the Patient Monitoring Form within 7 days [V]
DEVICE_REST_MIN = 5  # SPRAVATO PI: 5-minute rest between devices [V]


# ---------------------------------------------------------------------------------------------- helpers


def resolve_protocol(clinic: Any, protocol_id: str) -> Protocol:
    """A packaged protocol, or the clinic's own active one; ValidationFailed naming `protocol_id`."""
    try:
        return get_protocol(protocol_id)
    except KeyError:
        pass
    cp = ClinicProtocol.objects.filter(clinic=clinic, protocol_id=protocol_id, active=True).first()
    if cp is None:
        raise ValidationFailed({"protocol_id": [f"unknown protocol {protocol_id!r}"]})
    return parse_protocol(cp.definition)


def course_protocol(course: TreatmentCourse) -> Protocol:
    return parse_protocol(course.protocol_snapshot)


def _screening_cleared(patient: Any) -> bool:
    from ketaclinic.web.screening.selectors import screening_is_cleared

    return bool(screening_is_cleared(patient))


# The consent record names a product (screening/data/approvals.yaml `products`); a protocol names a drug.
CONSENT_PRODUCT = {"esketamine": "esketamine_nasal", "ketamine": "ketamine_racemic"}


def consent_indications() -> dict[str, str]:
    """Indication codes a course may be started for (the codes consent is recorded against), with labels."""
    from ketaclinic.web.screening.actions import approvals

    return dict(approvals()["indications"])


def _consent_on_file(patient: Any, protocol: Protocol, indication: str) -> bool:
    from ketaclinic.web.screening.selectors import consent_on_file

    product = CONSENT_PRODUCT.get(protocol.drug)
    if product is None:
        return False
    return bool(consent_on_file(patient, indication=indication, product=product))


def _suicide_alert_open(patient: Any) -> bool:
    try:
        from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
    except ImportError:  # pragma: no cover - the assessments app is part of the product
        return False
    return bool(has_unacknowledged_suicide_alert(patient))


def _aware(value: Any, field: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            errors.setdefault(field, []).append("is not a date-time")
            return None
    if not isinstance(value, dt.datetime):
        errors.setdefault(field, []).append("is not a date-time")
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _decimal(
    value: Any, field: str, errors: dict[str, list[str]], *, required: bool = True
) -> Decimal | None:
    if value is None or value == "":
        if required:
            errors.setdefault(field, []).append("is required")
        return None
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        errors.setdefault(field, []).append("must be a number")
        return None
    if not d.is_finite() or d <= 0:
        errors.setdefault(field, []).append("must be greater than 0")
        return None
    return d


def _duration_min(value: Any, errors: dict[str, list[str]]) -> int | None:
    """An optional infusion duration: None when left empty; a whole number of minutes above 0, or an error
    on duration_min (and None)."""
    if value in (None, ""):
        return None
    try:
        dur = int(value)
    except (TypeError, ValueError):
        dur = 0
    if dur <= 0:
        errors["duration_min"] = ["must be a whole number of minutes greater than 0"]
        return None
    return dur


def _session_for_update(actor: Any, session_id: int, perm: Perm = Perm.SESSION_RUN) -> DosingSession:
    session = (
        DosingSession.objects.select_for_update(of=("self",))
        .select_related("patient", "course", "order", "clinic")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise NotFoundError("no such session")
    access_patient_by_id(actor, session.patient_id, perm=perm, audit_action=None)
    return session


def _transition(session: DosingSession, to: str, *, actor: Any, detail: dict[str, Any] | None = None) -> None:
    frm = session.status
    if to not in TRANSITIONS.get(frm, frozenset()):
        raise ConflictError(
            f"cannot move a session from '{S(frm).label}' to '{S(to).label}'",
            fields={"status": [f"session is {S(frm).label}"]},
        )
    session.status = to
    SessionTransition.objects.create(
        session=session, from_status=frm, to_status=to, at=timezone.now(), actor=actor, detail=detail or {}
    )
    record_audit(
        actor=actor,
        action=f"session.{to}",
        obj=session,
        patient=session.patient,
        detail={"from": frm, "to": to, **(detail or {})},
    )
    pk, clinic_id = session.pk, session.clinic_id
    transaction.on_commit(
        lambda: notify_group(clinic_group(clinic_id), {"type": "session", "session": pk, "status": to})
    )


def _require_status(session: DosingSession, *allowed: str, doing: str) -> None:
    if session.status not in allowed:
        raise ConflictError(
            f"cannot {doing}: the session is '{S(session.status).label}'",
            fields={"status": [f"session is {S(session.status).label}"]},
        )


def dose_history(patient: Any, *, exclude_session: DosingSession | None = None) -> tuple[Dose, ...]:
    """The patient's administered doses as guard history; esketamine devices of one session are summed."""
    out: list[Dose] = []
    sessions = DosingSession.objects.filter(patient=patient, first_dose_at__isnull=False)
    if exclude_session is not None:
        sessions = sessions.exclude(pk=exclude_session.pk)
    for s in sessions.prefetch_related("administrations"):
        admins = list(s.administrations.all())
        if not admins:
            continue
        first = admins[0]
        total = float(sum(a.dose_mg for a in admins))
        dur = sum(a.duration_min or 0 for a in admins) or None
        out.append(
            Dose(
                time=first.administered_at,
                drug=first.drug,
                route=first.route,
                dose_mg=total,  # type: ignore[arg-type]
                duration_min=float(dur) if dur else None,
            )
        )
    return tuple(out)


def _previous_weight(patient: Any, current: Any) -> tuple[float | None, dt.date | None]:
    """The chart's weight recorded before `current` (a WeightMeasurement) and its date in the site's time zone,
    so the guard can catch a weight that jumped (pounds typed as kilograms)."""
    if current is None:
        return None, None
    prev = patient.weights.filter(measured_at__lt=current.measured_at).order_by("-measured_at", "-pk").first()
    if prev is None:
        return None, None
    return float(prev.weight_kg), timezone.localdate(prev.measured_at)


def _guard(
    patient: Any,
    protocol: Protocol,
    weight: Decimal,
    proposed: Dose,
    history: tuple[Dose, ...],
    *,
    measurement: Any = None,
) -> DoseCheckResult:
    previous_kg, previous_on = _previous_weight(patient, measurement)
    facts = PatientFacts(float(weight), patient.birth_date, previous_kg, previous_on)
    req = DoseRequest(facts, protocol.id, history, proposed)
    try:
        return check_dose(req, protocol)
    except DoseRequestError as exc:
        raise ValidationFailed({exc.field.replace("proposed.", ""): [exc.reason]}) from None


def _enforce_guard(result: DoseCheckResult, *, actor: Any, clinic: Any, override_reason: str) -> None:
    if result.decision == "block":
        raise ValidationFailed(
            {"dose_mg": [f"{f.code}: {f.message}" for f in result.findings if f.level == "block"]},
            message="the dose guard blocks this dose",
        )
    if result.decision == "warn":
        if not override_reason.strip():
            raise ValidationFailed(
                {
                    "override_reason": [
                        "the dose guard warns: "
                        + "; ".join(f.code for f in result.findings)
                        + " — a prescriber's reason is required"
                    ]
                }
            )
        if not has_perm_in_clinic(actor, clinic, Perm.ORDER_SIGN):
            raise ValidationFailed(
                {"override_reason": ["only a prescriber may override a dose-guard warning"]}
            )


def latest_weight_for(patient: Any) -> Any:
    return patient.latest_weight()


# ---------------------------------------------------------------------------------------------- courses & orders


def do_start_course(
    *,
    actor: Any,
    patient_id: int,
    protocol_id: str,
    indication: str,
    rems_patient_enrolled: bool = False,
    rems_patient_id: str = "",
    request: Any = None,
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
            action="course.start",
            obj=course,
            patient=patient,
            request=request,
            detail={"protocol": protocol.id, "version": protocol.version},
        )
    return course


def do_sign_order(
    *,
    actor: Any,
    course_id: int,
    planned_for: Any,
    dose_mg: Any = None,
    duration_min: Any = None,
    override_reason: str = "",
    request: Any = None,
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
            action="order.sign",
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
    *, actor: Any, order_id: int, scheduled_for: Any, site_id: int | None = None, request: Any = None
) -> DosingSession:
    with transaction.atomic():
        order = Order.objects.select_related("course", "patient").filter(pk=order_id).first()
        if order is None:
            raise NotFoundError("no such order")
        patient = access_patient_by_id(actor, order.patient_id, perm=Perm.SESSION_RUN, audit_action=None)
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
        if errors:
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
            action="session.schedule",
            obj=session,
            patient=patient,
            request=request,
            detail={"order": order.pk, "scheduled_for": when.isoformat() if when else None},
        )
    return session


# ---------------------------------------------------------------------------------------------- session workflow


def do_check_in(*, actor: Any, session_id: int, request: Any = None) -> DosingSession:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _transition(session, S.CHECKED_IN, actor=actor)
        session.checked_in_at = timezone.now()
        session.save(update_fields=["status", "checked_in_at"])
    return session


def _vitals_of(v: VitalSign) -> Vitals:
    return Vitals(v.taken_at, v.systolic, v.diastolic, v.heart_rate, v.spo2, v.respiratory_rate)


def baseline_vitals(session: DosingSession) -> VitalSign | None:
    return session.vitals.filter(is_baseline=True).order_by("-taken_at", "-pk").first()


def pre_dose_problems(
    session: DosingSession, protocol: Protocol, data: dict[str, Any]
) -> dict[str, list[str]]:
    """Every unmet pre-dose check, by field (empty = all checks pass)."""
    errors: dict[str, list[str]] = {}
    pd = protocol.pre_dose
    base = baseline_vitals(session)
    if base is None or base.systolic is None or base.diastolic is None:
        errors["vitals"] = ["record baseline vitals (with blood pressure) after check-in"]
    else:
        alerts = evaluate_vitals(_vitals_of(base), phase="pre_dose")
        if alerts and not (data.get("bp_attestation_reason") or "").strip():
            errors["vitals"] = [
                f"{a.message} A prescriber's risk–benefit attestation is required." for a in alerts
            ]
    if not data.get("fasting_confirmed"):
        errors["fasting_confirmed"] = [
            f"confirm no food for {pd.fasting_food_hours.value:g} h and no liquids for {pd.fasting_liquids_hours.value:g} h"
        ]
    if pd.transport_home_required and not (
        data.get("transport_confirmed") and (data.get("escort_name") or "").strip()
    ):
        errors["transport_confirmed"] = [
            "confirm transport home and name the escort (no driving until the next day)"
        ]
    preg = data.get("pregnancy_test") or ""
    needs_test = pd.pregnancy_test == "always" or (
        pd.pregnancy_test == "if_childbearing_potential"
        and session.patient.sex_at_birth in ("female", "intersex")
        and session.patient.age_on(timezone.localdate()) < 56
    )
    if needs_test and preg != DosingSession.PregnancyTest.NEGATIVE:
        errors["pregnancy_test"] = ["a negative pregnancy test is required before dosing"]
    if preg == DosingSession.PregnancyTest.POSITIVE:
        errors["pregnancy_test"] = ["positive pregnancy test: do not dose"]
    if _suicide_alert_open(session.patient):
        errors["suicide_alert"] = [
            "an unacknowledged suicide-risk alert must be reviewed by a prescriber first"
        ]
    if pd.rems_enrolment_required:
        if not (data.get("rems_enrolment_verified") and session.course.rems_patient_enrolled):
            errors["rems_enrolment_verified"] = ["verify the patient's Spravato REMS enrolment"]
        if session.site is None or not session.site.rems_certified:
            errors["site"] = ["this site is not REMS-certified for esketamine"]
    return errors


def do_pass_pre_dose_checks(
    *, actor: Any, session_id: int, data: dict[str, Any], request: Any = None
) -> DosingSession:
    """Record the pre-dose checklist; refused (nothing saved) unless every check passes."""
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.CHECKED_IN, doing="run pre-dose checks")
        protocol = course_protocol(session.course)
        errors = pre_dose_problems(session, protocol, data)
        reason = (data.get("bp_attestation_reason") or "").strip()
        if reason and not has_perm_in_clinic(actor, session.clinic, Perm.ORDER_SIGN):
            errors.setdefault("bp_attestation_reason", []).append("only a prescriber may attest")
        if errors:
            raise ValidationFailed(errors, message="pre-dose checks not passed")
        session.fasting_confirmed = True
        session.transport_confirmed = bool(data.get("transport_confirmed"))
        session.escort_name = (data.get("escort_name") or "").strip()
        session.pregnancy_test = data.get("pregnancy_test") or DosingSession.PregnancyTest.NOT_REQUIRED
        session.rems_enrolment_verified = bool(data.get("rems_enrolment_verified"))
        session.bp_attestation_reason = reason
        session.pre_dose_passed_at = timezone.now()
        _transition(
            session, S.PRE_DOSE_CHECKS, actor=actor, detail={"attestation": reason} if reason else None
        )
        session.save()
    return session


# ---------------------------------------------------------------------------------------------- ledger custody


def _ledger_errors(exc: ValidationFailed, rename: dict[str, str]) -> ValidationFailed:
    """The ledger's error with its fields renamed to this form's fields (nothing was stored)."""
    fields: dict[str, list[str]] = {}
    for k, reasons in exc.fields.items():
        fields.setdefault(rename.get(k, k), []).extend(reasons)
    return ValidationFailed(fields)


def _held_lot(session: DosingSession, *, lot_id: Any, lot_number: str, errors: dict[str, list[str]]) -> Any:
    """The ledger lot this dose comes from: one the session holds stock of (withdrawn and not yet used)."""
    from ketaclinic.web.treatment.stock import holdings, stock_setup_problem

    held = [(lot, q) for lot, q in holdings(session) if q > 0]
    if not held:
        problem = stock_setup_problem(session)
        errors.setdefault("lot", []).append(
            problem
            if problem is not None
            else "withdraw stock for this session from the controlled-substance ledger before recording a dose"
        )
        return None
    chosen = held
    if lot_id not in (None, ""):
        chosen = [(lot, q) for lot, q in held if str(lot.pk) == str(lot_id)]
    elif (lot_number or "").strip():
        chosen = [(lot, q) for lot, q in held if lot.lot_number == lot_number.strip()]
    labels = ", ".join(lot.lot_number for lot, _ in held)
    if not chosen:
        errors.setdefault("lot", []).append(f"the session holds stock of lot {labels} only")
        return None
    if len(chosen) > 1:
        errors.setdefault("lot", []).append(f"the session holds several lots ({labels}): choose one")
        return None
    return chosen[0][0]


def _ledger_administration(
    actor: Any, session: DosingSession, order: Order, lot: Any, dose: Decimal, when: dt.datetime, request: Any
) -> Any:
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.treatment.stock import units_for_dose

    quantity = units_for_dose(lot.product, dose)
    try:
        return ledger.do_record_administration(
            actor=actor,
            session=session,
            lot=lot,
            quantity=quantity,
            prescriber=order.signed_by,
            occurred_at=when,
            request=request,
        )
    except ValidationFailed as exc:
        raise _ledger_errors(exc, {"quantity": "dose_mg", "occurred_at": "administered_at"}) from None


def do_withdraw_stock(
    *,
    actor: Any,
    session_id: int,
    lot_id: Any,
    location_id: Any,
    quantity: Any = None,
    occurred_at: Any = None,
    request: Any = None,
) -> Any:
    """Withdraw stock for this session from a storage location at its site (ledger withdrawal entry).

    The lot must be an in-date lot of the protocol's drug with stock at that location; `quantity` (in the
    product's unit) defaults to the ordered dose in whole containers (solutions) or whole devices/tablets.
    """
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.ledger.models import Lot, StorageLocation
    from ketaclinic.web.treatment.stock import default_withdraw_quantity, stock_setup_problem

    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.PRE_DOSE_CHECKS, S.DOSING, doing="withdraw stock")
        errors: dict[str, list[str]] = {}
        problem = stock_setup_problem(session)
        if problem is not None:
            raise ValidationFailed({"lot": [problem]})
        protocol = course_protocol(session.course)
        lot = (
            Lot.objects.select_related("product").filter(pk=_int_or_none(lot_id)).first()
            if str(lot_id or "").strip()
            else None
        )
        location = (
            StorageLocation.objects.select_related("site").filter(pk=_int_or_none(location_id)).first()
            if str(location_id or "").strip()
            else None
        )
        if lot is None or lot.product.clinic_id != session.clinic_id:
            errors["lot"] = ["choose a lot of this clinic's stock"]
        elif lot.product.drug != protocol.drug:
            errors["lot"] = [
                f"lot {lot.lot_number} is {lot.product.drug}; this session's protocol gives {protocol.drug}"
            ]
        if location is None or location.site.clinic_id != session.clinic_id:
            errors["location"] = ["choose a storage location of this clinic"]
        elif session.site_id is not None and location.site_id != session.site_id:
            errors["location"] = [f"{location.name} is at {location.site.name}, not at this session's site"]
        when = _aware(occurred_at, "occurred_at", errors)
        if errors:
            raise ValidationFailed(errors)
        assert lot is not None and location is not None
        if quantity in (None, ""):
            quantity = default_withdraw_quantity(session, lot.product)
        try:
            entry = ledger.do_withdraw_for_session(
                actor=actor,
                session=session,
                lot=lot,
                location=location,
                quantity=quantity,
                occurred_at=when,
                request=request,
            )
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None
    return entry


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def do_waste_remainder(
    *,
    actor: Any,
    session_id: int,
    witness_id: Any,
    witness_password: str,
    reason: str = "",
    occurred_at: Any = None,
    request: Any = None,
) -> list[Any]:
    """Waste everything the session still holds (per lot) in front of a witness who re-enters their password.

    One ledger waste entry per lot, all in one transaction. Refused when nothing is left to waste.
    """
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.treatment.stock import holdings

    # The witness signs outside the writing transaction: a failed attempt must stay counted toward the
    # witness's lockout and audited even though the waste is then refused (and rolled back).
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="waste the remainder")
    wid = _int_or_none(witness_id)
    witness = User.objects.filter(pk=wid).first() if wid is not None else None
    signature = None
    if witness is not None:
        try:
            signature = ledger.authenticate_witness(
                actor=actor,
                clinic=session.clinic,
                witness=witness,
                password=witness_password,
                request=request,
            )
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="waste the remainder")
        errors: dict[str, list[str]] = {}
        held = [(lot, q) for lot, q in holdings(session) if q > 0]
        if not held:
            errors["waste"] = ["the session holds no stock: nothing to waste"]
        if witness is None:
            errors["witness"] = ["choose the witness"]
        when = _aware(occurred_at, "occurred_at", errors)
        if errors:
            raise ValidationFailed(errors)
        entries = []
        try:
            for lot, q in held:
                entries.append(
                    ledger.do_record_waste(
                        actor=actor,
                        lot=lot,
                        quantity=q,
                        witness=witness,
                        witness_password=signature,
                        session=session,
                        reason=(reason or "").strip() or "unused remainder of the session's withdrawal",
                        occurred_at=when,
                        request=request,
                    )
                )
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None
    return entries


def do_return_unused_stock(*, actor: Any, session_id: int, request: Any = None) -> list[Any]:
    """Put unopened stock the session still holds back where it came from (e.g. before cancelling)."""
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.treatment.stock import holdings

    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(
            session, S.PRE_DOSE_CHECKS, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="return stock"
        )
        held = [(lot, q) for lot, q in holdings(session) if q > 0]
        if not held:
            raise ValidationFailed({"return": ["the session holds no stock: nothing to return"]})
        try:
            return [
                ledger.do_return_to_stock(actor=actor, session=session, lot=lot, quantity=q, request=request)
                for lot, q in held
            ]
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None


def _refuse_unreconciled(session: DosingSession, doing: str) -> None:
    from ketaclinic.web.treatment.stock import reconciliation_problems

    problems = reconciliation_problems(session)
    if problems:
        raise ConflictError(
            f"cannot {doing}: the session does not reconcile with the controlled-substance ledger: "
            + "; ".join(problems),
            fields={"ledger": problems},
        )


def do_record_administration(
    *,
    actor: Any,
    session_id: int,
    dose_mg: Any,
    lot_number: str = "",
    lot_id: Any = None,
    administered_at: Any = None,
    route: str | None = None,
    duration_min: Any = None,
    override_reason: str = "",
    request: Any = None,
) -> Administration:
    """Record an administered dose (esketamine: one device at a time), guarded by the dose guard.

    The dose comes out of what the session withdrew from the controlled-substance ledger: the lot is the one
    the session holds (or `lot_id` / `lot_number` when it holds several), and the ledger's administration entry
    is written in this same transaction, so the dose and its ledger entry are stored together or not at all.
    """
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.PRE_DOSE_CHECKS, S.DOSING, doing="record a dose")
        order = session.order
        if order is None:
            raise ValidationFailed({"order": ["the session has no signed order"]})
        protocol = course_protocol(session.course)
        errors: dict[str, list[str]] = {}
        dose = _decimal(dose_mg, "dose_mg", errors)
        when = _aware(administered_at, "administered_at", errors) or (
            None if "administered_at" in errors else timezone.now()
        )
        lot = _held_lot(session, lot_id=lot_id, lot_number=lot_number, errors=errors)
        rt = route or order.route
        if rt not in protocol.routes:
            errors["route"] = [f"must be one of {', '.join(protocol.routes)}"]
        dur = _duration_min(duration_min, errors)
        previous = list(session.administrations.all())
        device_number = None
        if protocol.device_mg is not None and dose is not None:
            if dose != Decimal(str(protocol.device_mg.value)):
                errors["dose_mg"] = [f"record one {protocol.device_mg.value:g} mg device at a time"]
            device_number = len(previous) + 1
            if (
                previous
                and when is not None
                and when - previous[-1].administered_at < dt.timedelta(minutes=DEVICE_REST_MIN)
            ):
                errors["administered_at"] = [f"wait {DEVICE_REST_MIN} minutes between devices (SPRAVATO PI)"]
        elif previous:
            errors["dose_mg"] = ["this session's dose is already recorded"]
        if errors:
            raise ValidationFailed(errors)
        assert dose is not None and when is not None
        total = dose + sum((a.dose_mg for a in previous), Decimal(0))
        ordered = float(order.dose_mg)
        # Device by device the running total stays under the order; check against the order once it is reached.
        check_ordered = protocol.device_mg is None or float(total) >= ordered
        proposed = Dose(
            time=previous[0].administered_at if previous else when,
            drug=protocol.drug,
            route=rt,
            dose_mg=float(total),
            duration_min=float(dur) if dur else None,
            ordered_mg=ordered if check_ordered else None,
        )
        measurement = order.weight_measurement or latest_weight_for(session.patient)
        weight = order.weight_kg or (measurement.weight_kg if measurement is not None else None)
        if weight is None:
            raise ValidationFailed({"weight": ["no weight on record"]})
        result = _guard(
            session.patient,
            protocol,
            weight,
            proposed,
            dose_history(session.patient, exclude_session=session),
            measurement=measurement,
        )
        _enforce_guard(result, actor=actor, clinic=session.clinic, override_reason=override_reason)
        admin = Administration.objects.create(
            session=session,
            order=order,
            drug=protocol.drug,
            route=rt,
            dose_mg=dose,
            duration_min=dur,
            device_number=device_number,
            lot_number=lot.lot_number if lot is not None else "",
            administered_at=when,
            administered_by=actor,
            guard_decision=result.decision,
            guard_findings=[f.to_dict() for f in result.findings],
            override_reason=override_reason.strip(),
            override_by=actor if override_reason.strip() else None,
        )
        assert lot is not None
        admin.ledger_entry = _ledger_administration(actor, session, order, lot, dose, when, request)
        admin.save(update_fields=["ledger_entry"])
        first = not previous
        if first:
            session.first_dose_at = when
            _transition(session, S.DOSING, actor=actor, detail={"administration": admin.pk})
        if protocol.infusion is None and protocol.device_mg is None:
            session.dose_ended_at = when
        elif dur:
            session.dose_ended_at = when + dt.timedelta(minutes=dur)
        elif protocol.device_mg is not None:
            session.dose_ended_at = when
        session.save()
        record_audit(
            actor=actor,
            action="administration.record",
            obj=admin,
            patient=session.patient,
            request=request,
            detail={
                "dose_mg": str(dose),
                "lot": admin.lot_number,
                "ledger_seq": admin.ledger_entry.seq,
                "device": device_number,
                "guard": result.to_dict(),
                "override_reason": override_reason.strip(),
            },
        )
        if first:
            # In the same transaction: the dose and its post-dose questionnaire links are stored together or
            # not at all (a dose whose follow-up silently failed to schedule would go unmeasured).
            _post_dose_links(session.patient, when, actor)
    return admin


def _post_dose_links(patient: Any, dose_time: dt.datetime, actor: Any) -> None:
    from ketaclinic.web.assessments import actions as assessment_actions

    assessment_actions.do_schedule_post_dose_links(patient=patient, dose_time=dose_time, actor=actor)


def do_end_dosing(
    *, actor: Any, session_id: int, ended_at: Any = None, reason: str = "", request: Any = None
) -> DosingSession:
    """Dosing is complete (all devices given / infusion finished): start post-dose monitoring."""
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, doing="end dosing")
        errors: dict[str, list[str]] = {}
        when = _aware(ended_at, "ended_at", errors) or timezone.now()
        total = sum((a.dose_mg for a in session.administrations.all()), Decimal(0))
        assert session.order is not None
        if total < session.order.dose_mg and not reason.strip():
            errors["reason"] = [f"{total} mg given of {session.order.dose_mg} mg ordered: give a reason"]
        if errors:
            raise ValidationFailed(errors)
        protocol = course_protocol(session.course)
        if protocol.infusion is not None:
            session.dose_ended_at = when
        session.infusion_paused = False
        session.monitoring_started_at = when
        _transition(
            session, S.MONITORING, actor=actor, detail={"total_mg": str(total), "reason": reason.strip()}
        )
        session.save()
    return session


def do_set_infusion_paused(
    *, actor: Any, session_id: int, paused: bool, reason: str = "", request: Any = None
) -> DosingSession:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, doing="pause or resume the infusion")
        if not reason.strip():
            raise ValidationFailed({"reason": ["is required"]})
        session.infusion_paused = paused
        session.save(update_fields=["infusion_paused"])
        record_audit(
            actor=actor,
            action="session.infusion_paused" if paused else "session.infusion_resumed",
            obj=session,
            patient=session.patient,
            request=request,
            detail={"reason": reason.strip()},
        )
    return session


def _raise_alert(session: DosingSession, a: VitalAlert, *, vital: VitalSign | None) -> SessionAlert:
    """Store an evaluated alert on the session (pausing a running infusion if the rule says so) and
    announce it to the clinic once the transaction commits."""
    code, level, message = a.code, a.level, a.message
    paused = a.pause_infusion and session.status == S.DOSING and not session.infusion_paused
    alert = SessionAlert.objects.create(
        session=session,
        code=code,
        level=level,
        message=message[:400],
        source=a.source,
        vital_sign=vital,
        paused_infusion=paused,
        raised_at=timezone.now(),
    )
    if paused:
        session.infusion_paused = True
        session.save(update_fields=["infusion_paused"])
    pk, clinic_id, sid = alert.pk, session.clinic_id, session.pk
    transaction.on_commit(
        lambda: notify_group(
            clinic_group(clinic_id),
            {
                "type": "alert",
                "level": level,
                "code": code,
                "session": sid,
                "alert": pk,
                "text": f"Session {sid}: {message}" + (" Infusion paused." if paused else ""),
            },
        )
    )
    return alert


# A session in which vitals and sedation/dissociation scores may be charted: from check-in until discharge.
_CHARTING_STATUSES = (S.CHECKED_IN, S.PRE_DOSE_CHECKS, S.DOSING, S.MONITORING, S.DISCHARGE_READY)

_VITAL_LIMITS = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "spo2": (50, 100),
    "respiratory_rate": (2, 60),
}


def record_vitals_in(
    session: DosingSession,
    *,
    actor: Any,
    taken_at: dt.datetime,
    values: dict[str, int | None],
    source: str = VitalSign.Source.MANUAL,
    device_id: str | None = None,
) -> tuple[VitalSign, list[SessionAlert]]:
    """Store one vitals set in a locked session and raise its alerts (used by manual entry and sensors)."""
    baseline = session.status == S.CHECKED_IN
    vs = VitalSign.objects.create(
        session=session,
        patient=session.patient,
        taken_at=taken_at,
        source=source,
        device_id=device_id,
        is_baseline=baseline,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        **values,
    )
    base = baseline_vitals(session)
    phase = "pre_dose" if session.status in (S.CHECKED_IN, S.SCHEDULED, S.PRE_DOSE_CHECKS) else "during"
    alerts = [
        _raise_alert(session, a, vital=vs)
        for a in evaluate_vitals(
            _vitals_of(vs),
            phase=phase,  # type: ignore[arg-type]
            baseline=_vitals_of(base) if base and not baseline else None,
        )
    ]
    return vs, alerts


def do_record_vitals(
    *, actor: Any, session_id: int, values: dict[str, Any], taken_at: Any = None, request: Any = None
) -> tuple[VitalSign, list[SessionAlert]]:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, *_CHARTING_STATUSES, doing="record vitals")
        errors: dict[str, list[str]] = {}
        when = _aware(taken_at, "taken_at", errors) or timezone.now()
        clean: dict[str, int | None] = {}
        for k, (lo, hi) in _VITAL_LIMITS.items():
            raw = values.get(k)
            if raw in (None, ""):
                clean[k] = None
                continue
            try:
                x = int(str(raw))
            except ValueError:
                errors[k] = ["must be a whole number"]
                continue
            if not lo <= x <= hi:
                errors[k] = [f"must be between {lo} and {hi}"]
            clean[k] = x
        if not errors and all(v is None for v in clean.values()):
            errors["vitals"] = ["enter at least one value"]
        if (clean.get("systolic") is None) != (clean.get("diastolic") is None) and "systolic" not in errors:
            errors["diastolic" if clean.get("diastolic") is None else "systolic"] = [
                "enter both systolic and diastolic"
            ]
        if errors:
            raise ValidationFailed(errors)
        vs, alerts = record_vitals_in(session, actor=actor, taken_at=when, values=clean)
        record_audit(
            actor=actor,
            action="vitals.record",
            obj=vs,
            patient=session.patient,
            request=request,
            detail={**{k: v for k, v in clean.items() if v is not None}, "alerts": [a.code for a in alerts]},
        )
    return vs, alerts


def do_record_scale(
    *, actor: Any, session_id: int, kind: str, score: Any, taken_at: Any = None, request: Any = None
) -> ScaleReading:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, *_CHARTING_STATUSES, doing="record a score")
        errors: dict[str, list[str]] = {}
        if kind not in ScaleReading.Kind.values:
            errors["kind"] = ["must be moaas or cadss"]
        hi = 5 if kind == "moaas" else 92  # CADSS total 0-92 (23 items scored 0-4)
        try:
            value = int(str(score))
            if not 0 <= value <= hi:
                errors["score"] = [f"must be between 0 and {hi}"]
        except ValueError:
            errors["score"] = ["must be a whole number"]
            value = 0
        when = _aware(taken_at, "taken_at", errors) or timezone.now()
        if errors:
            raise ValidationFailed(errors)
        reading = ScaleReading.objects.create(
            session=session, kind=kind, score=value, taken_at=when, recorded_by=actor
        )
        if kind == "moaas":
            a = evaluate_sedation(value)
            if a is not None:
                _raise_alert(session, a, vital=None)
        record_audit(
            actor=actor,
            action="scale.record",
            obj=session,
            patient=session.patient,
            request=request,
            detail={"kind": kind, "score": value},
        )
    return reading


def do_record_side_effect(
    *,
    actor: Any,
    session_id: int,
    code: str,
    severity: str,
    onset_at: Any = None,
    serious: bool = False,
    notes: str = "",
    request: Any = None,
) -> SideEffect:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="record a side effect")
        errors: dict[str, list[str]] = {}
        if code not in SideEffect.Code.values:
            errors["code"] = ["choose a coded side effect"]
        if severity not in SideEffect.Severity.values:
            errors["severity"] = ["must be mild, moderate or severe"]
        when = _aware(onset_at, "onset_at", errors) or timezone.now()
        if errors:
            raise ValidationFailed(errors)
        se = SideEffect.objects.create(
            session=session,
            code=code,
            severity=severity,
            serious=bool(serious),
            onset_at=when,
            notes=notes,
            recorded_by=actor,
        )
        if session.status == S.DISCHARGE_READY:
            _transition(session, S.MONITORING, actor=actor, detail={"reason": "new side effect"})
            session.discharge_ready_at = None
            session.save()
        record_audit(
            actor=actor,
            action="side_effect.record",
            obj=se,
            patient=session.patient,
            request=request,
            detail={"code": code, "severity": severity, "serious": bool(serious)},
        )
    return se


def do_resolve_side_effect(*, actor: Any, side_effect_id: int, request: Any = None) -> SideEffect:
    with transaction.atomic():
        se = SideEffect.objects.select_for_update().filter(pk=side_effect_id).first()
        if se is None:
            raise NotFoundError("no such side effect")
        session = _session_for_update(actor, se.session_id)
        if se.resolved_at is not None:
            raise ConflictError("already resolved")
        se.resolved_at = timezone.now()
        se.save(update_fields=["resolved_at"])
        record_audit(
            actor=actor, action="side_effect.resolve", obj=se, patient=session.patient, request=request
        )
    return se


def do_record_intervention(
    *, actor: Any, session_id: int, description: str, given_at: Any = None, request: Any = None
) -> Intervention:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="record an intervention")
        errors: dict[str, list[str]] = {}
        if not (description or "").strip():
            errors["description"] = ["is required"]
        when = _aware(given_at, "given_at", errors) or timezone.now()
        if errors:
            raise ValidationFailed(errors)
        iv = Intervention.objects.create(
            session=session, description=description.strip(), given_at=when, recorded_by=actor
        )
        record_audit(
            actor=actor,
            action="intervention.record",
            obj=session,
            patient=session.patient,
            request=request,
            detail={"description": iv.description},
        )
    return iv


def do_acknowledge_session_alert(*, actor: Any, alert_id: int, request: Any = None) -> SessionAlert:
    with transaction.atomic():
        alert = SessionAlert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFoundError("no such alert")
        session = _session_for_update(actor, alert.session_id)
        if alert.acknowledged_at is not None:
            raise ConflictError("already acknowledged")
        alert.acknowledged_by = actor
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
        record_audit(
            actor=actor,
            action="session_alert.acknowledge",
            obj=session,
            patient=session.patient,
            request=request,
            detail={"alert": alert.pk, "code": alert.code},
        )
    return alert


def discharge_decision(
    session: DosingSession, *, escort_present: bool | None = None, now: dt.datetime | None = None
) -> DischargeDecision:
    protocol = course_protocol(session.course)
    base = baseline_vitals(session)
    moaas = session.scale_readings.filter(kind="moaas").order_by("-taken_at", "-pk").first()
    return evaluate_discharge(
        DischargeInput(
            now=now or timezone.now(),
            baseline=_vitals_of(base) if base else None,
            vitals=[_vitals_of(v) for v in session.vitals.all()],
            latest_moaas=moaas.score if moaas else None,
            unresolved_side_effects=[
                se.get_code_display() for se in session.side_effects.filter(resolved_at__isnull=True)
            ],
            escort_present=session.escort_present if escort_present is None else escort_present,
            first_dose_at=session.first_dose_at,
            dose_end_at=session.dose_ended_at,
        ),
        protocol,
    )


def _refuse_discharge(decision: DischargeDecision) -> None:
    raise ConflictError(
        "discharge criteria not met: " + "; ".join(u.message for u in decision.unmet),
        fields={u.code: [u.message] for u in decision.unmet},
    )


def do_mark_discharge_ready(
    *, actor: Any, session_id: int, escort_present: bool, rems_ready_minutes: Any = None, request: Any = None
) -> DosingSession:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.MONITORING, doing="mark ready for discharge")
        errors: dict[str, list[str]] = {}
        minutes = None
        if rems_ready_minutes not in (None, ""):
            try:
                minutes = int(rems_ready_minutes)
                if minutes < 0:
                    raise ValueError
            except (TypeError, ValueError):
                errors["rems_ready_minutes"] = ["must be a whole number of minutes"]
        if errors:
            raise ValidationFailed(errors)
        decision = discharge_decision(session, escort_present=bool(escort_present))
        if not decision.ready:
            _refuse_discharge(decision)
        _refuse_unreconciled(session, "mark ready for discharge")
        session.escort_present = bool(escort_present)
        session.rems_ready_minutes = minutes
        session.discharge_ready_at = timezone.now()
        _transition(session, S.DISCHARGE_READY, actor=actor)
        session.save()
    return session


def _detach_sensors(actor: Any, session: DosingSession, reason: str) -> int:
    """Detach the session's monitoring devices inside the caller's transaction (discharge, cancellation):
    readings a device sends for this session afterwards are refused per reading by ingestion."""
    from ketaclinic.web.monitoring.actions import do_detach_session_devices

    return do_detach_session_devices(actor=actor, session=session, reason=reason)


def do_discharge(*, actor: Any, session_id: int, request: Any = None) -> DosingSession:
    """Discharge: re-checks every criterion (esketamine ≥120 min after the first device); makes the REMS form."""
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DISCHARGE_READY, doing="discharge")
        decision = discharge_decision(session)
        if not decision.ready:
            _refuse_discharge(decision)
        _refuse_unreconciled(session, "discharge")
        # The patient leaves: their sensors stop belonging to this session (same transaction: both or neither).
        _detach_sensors(actor, session, "discharged")
        now = timezone.now()
        session.discharged_at = now
        session.discharged_by = actor
        _transition(session, S.DISCHARGED, actor=actor)
        session.save()
        protocol = course_protocol(session.course)
        if protocol.pre_dose.rems_enrolment_required:
            from ketaclinic.web.treatment.rems import rems_form_data

            due = timezone.localdate(now) + dt.timedelta(days=REMS_FORM_DAYS)
            data = rems_form_data(session)
            data["11_submit_by"] = due.isoformat()
            RemsMonitoringForm.objects.create(session=session, data=data, generated_at=now, due_on=due)
    return session


def do_cancel_session(*, actor: Any, session_id: int, reason: str, request: Any = None) -> DosingSession:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        if not (reason or "").strip():
            raise ValidationFailed({"reason": ["is required"]})
        from ketaclinic.web.treatment.stock import holdings

        if any(q > 0 for _, q in holdings(session)):
            raise ConflictError(
                "cannot cancel: the session holds controlled-substance stock — return it to storage first",
                fields={"ledger": ["return the unopened stock to storage before cancelling"]},
            )
        _detach_sensors(actor, session, "session cancelled")
        _transition(session, S.CANCELLED, actor=actor, detail={"reason": reason.strip()})
        session.save(update_fields=["status"])
    return session


def do_submit_rems_form(
    *, actor: Any, form_id: int, reference: str = "", request: Any = None
) -> RemsMonitoringForm:
    with transaction.atomic():
        form = (
            RemsMonitoringForm.objects.select_for_update()
            .select_related("session")
            .filter(pk=form_id)
            .first()
        )
        if form is None:
            raise NotFoundError("no such form")
        session = _session_for_update(actor, form.session_id)
        if form.submitted_at is not None:
            raise ConflictError("the form was already submitted")
        form.submitted_at = timezone.now()
        form.submitted_by = actor
        form.submission_reference = (reference or "").strip()[:64]
        form.save(update_fields=["submitted_at", "submitted_by", "submission_reference"])
        record_audit(
            actor=actor,
            action="rems_form.submit",
            obj=session,
            patient=session.patient,
            request=request,
            detail={"form": form.pk, "reference": form.submission_reference},
        )
    return form


def do_add_clinic_protocol(
    *, actor: Any, clinic: Any, definition: Any, request: Any = None
) -> ClinicProtocol:
    """A clinic admin adds a protocol (validated exactly like the packaged ones)."""
    with transaction.atomic():
        require_perm(actor, clinic, Perm.CLINIC_ADMIN)
        try:
            proto = parse_protocol(definition)
        except ProtocolError as exc:
            raise ValidationFailed({f"definition.{exc.path}": [exc.reason]}) from None
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
            action="protocol.add",
            obj=cp,
            clinic=clinic,
            request=request,
            detail={"protocol": proto.id, "version": proto.version},
        )
    return cp
