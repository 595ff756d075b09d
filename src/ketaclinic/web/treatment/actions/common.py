"""Shared pieces of the treatment actions: the session state machine, field parsing,
the locked session load and the dose guard.

Every action validates, runs in one transaction with its audit row, and changes nothing when it raises.
The dose guard (`ketaclinic.core.protocols.check_dose`) guards every order and every administration:
`block` is refused; `warn` needs a prescriber's written reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.protocols import (
    Dose,
    DoseCheckResult,
    DoseRequest,
    DoseRequestError,
    PatientFacts,
    Protocol,
    check_dose,
)
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed, failed_from_core
from ketaclinic.web.lib.live import clinic_group, notify_group
from ketaclinic.web.treatment.models import (
    DosingSession,
    SessionTransition,
)

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

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


def _aware(value: Any, field: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    if value is None or value == "":
        return None
    when: dt.datetime
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            errors.setdefault(field, []).append("is not a date-time")
            return None
    else:
        errors.setdefault(field, []).append("is not a date-time")
        return None
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


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


def _session_for_update(actor: User, session_id: int, perm: Perm = Perm.SESSION_RUN) -> DosingSession:
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


def _transition(
    session: DosingSession, to: str, *, actor: User, detail: dict[str, Any] | None = None
) -> None:
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


def _previous_weight(patient: Patient, current: Any) -> tuple[float | None, dt.date | None]:
    """The chart's weight recorded before `current` (a WeightMeasurement) and its date in the site's time zone,
    so the guard can catch a weight that jumped (pounds typed as kilograms)."""
    if current is None:
        return None, None
    prev = patient.weights.filter(measured_at__lt=current.measured_at).order_by("-measured_at", "-pk").first()
    if prev is None:
        return None, None
    return float(prev.weight_kg), timezone.localdate(prev.measured_at)


def _guard(
    patient: Patient,
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
        raise failed_from_core(exc, field=exc.field.replace("proposed.", "")) from None


def _enforce_guard(result: DoseCheckResult, *, actor: User, clinic: Clinic, override_reason: str) -> None:
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
