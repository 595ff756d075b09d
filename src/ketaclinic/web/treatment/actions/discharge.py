"""The end of a session: discharge readiness, discharge, cancellation and the REMS monitoring form."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.protocols.monitoring import (
    DischargeDecision,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.treatment.actions.common import (
    REMS_FORM_DAYS,
    S,
    _require_status,
    _session_for_update,
    _transition,
)
from ketaclinic.web.treatment.actions.custody import _refuse_unreconciled
from ketaclinic.web.treatment.models import (
    DosingSession,
    RemsMonitoringForm,
)
from ketaclinic.web.treatment.selectors import course_protocol, discharge_decision

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def _refuse_discharge(decision: DischargeDecision) -> None:
    raise ConflictError(
        "discharge criteria not met: " + "; ".join(u.message for u in decision.unmet),
        fields={u.code: [u.message] for u in decision.unmet},
    )


def do_mark_discharge_ready(
    *,
    actor: User,
    session_id: int,
    escort_present: bool,
    rems_ready_minutes: Any = None,
    request: HttpRequest | None = None,
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


def _detach_sensors(actor: User, session: DosingSession, reason: str) -> int:
    """Detach the session's monitoring devices inside the caller's transaction (discharge, cancellation):
    readings a device sends for this session afterwards are refused per reading by ingestion."""
    from ketaclinic.web.monitoring.actions import do_detach_session_devices

    return do_detach_session_devices(actor=actor, session=session, reason=reason)


def do_discharge(*, actor: User, session_id: int, request: HttpRequest | None = None) -> DosingSession:
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


def do_cancel_session(
    *, actor: User, session_id: int, reason: str, request: HttpRequest | None = None
) -> DosingSession:
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
    *, actor: User, form_id: int, reference: str = "", request: HttpRequest | None = None
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
            action=AuditAction.REMS_FORM_SUBMIT,
            obj=session,
            patient=session.patient,
            request=request,
            detail={"form": form.pk, "reference": form.submission_reference},
        )
    return form
