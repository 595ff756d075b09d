"""Dosing: administrations (each with its ledger entry), the end of dosing and infusion pauses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.protocols import (
    Dose,
)
from ketaclinic.core.protocols.infusion_dose import InfusionRun, infusion_run
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, ValidationFailed
from ketaclinic.web.treatment.actions.common import (
    DEVICE_REST_MIN,
    S,
    _aware,
    _decimal,
    _duration_min,
    _enforce_guard,
    _guard,
    _require_status,
    _session_for_update,
    _transition,
)
from ketaclinic.web.treatment.actions.custody import _held_lot, _ledger_administration
from ketaclinic.web.treatment.models import (
    Administration,
    DosingSession,
    InfusionPause,
)
from ketaclinic.web.treatment.selectors import course_protocol, dose_history, latest_weight_for

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient


def do_record_administration(
    *,
    actor: User,
    session_id: int,
    dose_mg: Any,
    lot_number: str = "",
    lot_id: Any = None,
    administered_at: Any = None,
    route: str | None = None,
    duration_min: Any = None,
    override_reason: str = "",
    request: HttpRequest | None = None,
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
            action=AuditAction.ADMINISTRATION_RECORD,
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


def _post_dose_links(patient: Patient, dose_time: dt.datetime, actor: User) -> None:
    from ketaclinic.web.assessments import actions as assessment_actions

    assessment_actions.do_schedule_post_dose_links(patient=patient, dose_time=dose_time, actor=actor)


def _open_pause(session: DosingSession) -> InfusionPause | None:
    return (
        InfusionPause.objects.filter(session=session, resumed_at__isnull=True).order_by("-paused_at").first()
    )


def pause_infusion(
    session: DosingSession, *, at: dt.datetime, reason: str, actor: Any = None, alert: Any = None
) -> InfusionPause:
    """Pause a running infusion in the caller's transaction (staff or an alert rule) and tell the clinic's
    screens (run sheet, live board) once it commits."""
    pause = InfusionPause.objects.create(
        session=session,
        paused_at=at,
        reason=reason[:400],
        paused_by=actor if getattr(actor, "is_authenticated", False) else None,
        alert=alert,
    )
    session.infusion_paused = True
    session.save(update_fields=["infusion_paused"])
    _announce_pause(session, pause, paused=True)
    return pause


def _announce_pause(session: DosingSession, pause: InfusionPause, *, paused: bool) -> None:
    from django.urls import reverse

    from ketaclinic.web.lib.live import clinic_group, notify_group, site_group

    event = {
        "run_sheet": reverse("treatment:session", kwargs={"session_id": session.pk}),
        "type": "infusion_paused" if paused else "infusion_resumed",
        "session": session.pk,
        "pause": pause.pk,
        "patient": session.patient.full_name,
        "reason": pause.reason,
        "at": (pause.paused_at if paused else pause.resumed_at or pause.paused_at).isoformat(),
        "text": (
            f"{session.patient.full_name}: infusion paused ({pause.reason})"
            if paused
            else f"{session.patient.full_name}: infusion resumed"
        ),
    }
    notify_group(clinic_group(session.clinic_id), event)
    if session.site_id is not None:
        from ketaclinic.web.monitoring.actions import board_group

        notify_group(board_group(session.site_id), event)
        notify_group(site_group(session.site_id), event)


def _infusion_run(session: DosingSession, ended_at: dt.datetime) -> InfusionRun | None:
    """The infusion's run until `ended_at` (None when the session has no timed infusion)."""
    admins = list(session.administrations.all())
    timed = [a for a in admins if a.duration_min]
    if len(timed) != 1 or len(admins) != 1:
        return None
    a = timed[0]
    assert a.duration_min is not None
    pauses = [(p.paused_at, p.resumed_at) for p in session.pauses.all()]
    return infusion_run(
        dose_mg=a.dose_mg,
        duration_min=a.duration_min,
        started_at=a.administered_at,
        ended_at=max(ended_at, a.administered_at),
        pauses=pauses,
    )


def do_end_dosing(
    *,
    actor: User,
    session_id: int,
    ended_at: Any = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> DosingSession:
    """Dosing is complete (all devices given / infusion finished or stopped): start post-dose monitoring.

    An infusion ended before its full dose ran in (start + duration + pauses) needs a reason and records the
    dose actually given: the rate (ordered dose / duration) times the minutes it ran, pauses excluded.
    """
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, doing="end dosing")
        errors: dict[str, list[str]] = {}
        when = _aware(ended_at, "ended_at", errors) or timezone.now()
        reason = (reason or "").strip()
        total = sum((a.dose_mg for a in session.administrations.all()), Decimal(0))
        assert session.order is not None
        protocol = course_protocol(session.course)
        run = _infusion_run(session, when) if protocol.infusion is not None and not errors else None
        if run is not None and when < run.planned_end - dt.timedelta(seconds=30):
            total = run.given_mg
            if not reason:
                errors["reason"] = [
                    f"the infusion is stopped early: {_fmt(run.given_mg)} mg of {_fmt(run.planned_mg)} mg given "
                    f"({_fmt(run.ran_min)} min running) — give the reason"
                ]
        elif total < session.order.dose_mg and not reason:
            errors["reason"] = [
                f"{_fmt(total)} mg given of {_fmt(session.order.dose_mg)} mg ordered: give the reason"
            ]
        if errors:
            raise ValidationFailed(errors)
        if protocol.infusion is not None:
            session.dose_ended_at = when
        open_pause = _open_pause(session)
        if open_pause is not None:
            open_pause.resumed_at = when
            open_pause.save(update_fields=["resumed_at"])
        session.infusion_paused = False
        session.monitoring_started_at = when
        session.dose_given_mg = total
        session.dose_end_reason = reason[:300]
        detail: dict[str, Any] = {"total_mg": str(total), "reason": reason}
        if run is not None:
            detail.update(
                {
                    "planned_mg": str(run.planned_mg),
                    "ran_min": str(run.ran_min),
                    "paused_min": str(run.paused_min),
                }
            )
        _transition(session, S.MONITORING, actor=actor, detail=detail)
        session.save()
    return session


def _fmt(d: Decimal) -> str:
    return f"{d.normalize():f}" if d == d.to_integral() else f"{d:f}".rstrip("0").rstrip(".")


def do_set_infusion_paused(
    *, actor: User, session_id: int, paused: bool, reason: str = "", request: HttpRequest | None = None
) -> DosingSession:
    """Pause or resume the running infusion (a reason each time); each pause is kept with its times, so the
    dose given when the infusion stops early leaves the paused minutes out."""
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, doing="pause or resume the infusion")
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed({"reason": ["is required"]})
        now = timezone.now()
        current = _open_pause(session)
        if paused and (current is not None or session.infusion_paused):
            raise ConflictError("the infusion is already paused", fields={"status": ["infusion paused"]})
        if not paused and current is None and not session.infusion_paused:
            raise ConflictError("the infusion is not paused", fields={"status": ["infusion running"]})
        if paused:
            pause_infusion(session, at=now, reason=reason, actor=actor)
        else:
            if current is not None:
                current.resumed_at = now
                current.save(update_fields=["resumed_at"])
                _announce_pause(session, current, paused=False)
            session.infusion_paused = False
            session.save(update_fields=["infusion_paused"])
        record_audit(
            actor=actor,
            action=AuditAction.SESSION_INFUSION_PAUSED if paused else AuditAction.SESSION_INFUSION_RESUMED,
            obj=session,
            patient=session.patient,
            request=request,
            detail={"reason": reason},
        )
    return session
