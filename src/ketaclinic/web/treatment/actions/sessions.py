"""The start of a dosing session: check-in and the pre-dose checks."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.protocols import (
    Protocol,
)
from ketaclinic.core.protocols.monitoring import (
    Vitals,
    evaluate_vitals,
)
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.treatment.actions.common import (
    S,
    _require_status,
    _session_for_update,
    _transition,
    course_protocol,
)
from ketaclinic.web.treatment.models import (
    DosingSession,
    VitalSign,
)


def _suicide_alert_open(patient: Any) -> bool:
    try:
        from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
    except ImportError:  # pragma: no cover - the assessments app is part of the product
        return False
    return bool(has_unacknowledged_suicide_alert(patient))


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
