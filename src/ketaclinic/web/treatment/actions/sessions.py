"""The start of a dosing session: check-in and the pre-dose checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.treatment.actions.common import S, _require_status, _session_for_update, _transition
from ketaclinic.web.treatment.models import (
    DosingSession,
)
from ketaclinic.web.treatment.selectors import PreDoseChecklist, course_protocol, pre_dose_problems

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_check_in(*, actor: User, session_id: int, request: HttpRequest | None = None) -> DosingSession:
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _transition(session, S.CHECKED_IN, actor=actor)
        session.checked_in_at = timezone.now()
        session.save(update_fields=["status", "checked_in_at"])
    return session


def do_pass_pre_dose_checks(
    *, actor: User, session_id: int, data: PreDoseChecklist, request: HttpRequest | None = None
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
