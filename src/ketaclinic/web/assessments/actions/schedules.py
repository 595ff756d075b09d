"""Remote schedules: questionnaires sent on a timetable or after each dose, and the links they make."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.instruments import (
    load_instrument,
)
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.assessments.actions.common import _instrument
from ketaclinic.web.assessments.actions.links import _new_link, _valid_hours
from ketaclinic.web.assessments.models import (
    Context,
    RemoteLink,
    RemoteSchedule,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient


def do_create_schedule(
    *,
    actor: User,
    patient_id: int,
    instrument_id: Any,
    kind: Any,
    interval_days: Any = None,
    delay_hours: Any = None,
    valid_hours: Any = 72,
    request: HttpRequest | None = None,
) -> RemoteSchedule:
    """A schedule: every `interval_days` (first link due now) or `delay_hours` after each dose."""
    errors: dict[str, list[str]] = {}
    defn = _instrument(instrument_id, errors, remote=True)
    hours = _valid_hours(valid_hours, errors)
    days: int | None = None
    delay: int | None = None
    if kind == RemoteSchedule.Kind.INTERVAL:
        try:
            days = int(interval_days)
            if not 1 <= days <= 365:
                errors["interval_days"] = ["must be between 1 and 365"]
        except (TypeError, ValueError):
            errors["interval_days"] = ["must be a whole number of days"]
    elif kind == RemoteSchedule.Kind.POST_DOSE:
        try:
            delay = int(delay_hours)
            if not 0 <= delay <= 24 * 14:
                errors["delay_hours"] = ["must be between 0 and 336"]
        except (TypeError, ValueError):
            errors["delay_hours"] = ["must be a whole number of hours"]
    else:
        errors["kind"] = ["must be interval or post_dose"]
    if errors:
        raise ValidationFailed(errors)
    assert defn is not None
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        sched = RemoteSchedule.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            instrument_id=defn.id,
            kind=kind,
            interval_days=days,
            delay_hours=delay,
            valid_hours=hours,
            next_due_at=timezone.now() if kind == RemoteSchedule.Kind.INTERVAL else None,
            created_by=actor,
        )
        record_audit(
            actor=actor,
            action=AuditAction.REMOTE_SCHEDULE_CREATE,
            obj=sched,
            patient=patient,
            request=request,
            detail={"instrument": defn.id, "kind": kind, "interval_days": days, "delay_hours": delay},
        )
    return sched


def do_deactivate_schedule(
    *, actor: User, schedule_id: int, request: HttpRequest | None = None
) -> RemoteSchedule:
    with transaction.atomic():
        sched = RemoteSchedule.objects.select_for_update().filter(pk=schedule_id).first()
        if sched is None:
            raise NotFoundError("no such schedule")
        access_patient_by_id(
            actor, sched.patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        if not sched.active:
            raise ConflictError("the schedule is already stopped")
        sched.active = False
        sched.save(update_fields=["active"])
        record_audit(
            actor=actor,
            action=AuditAction.REMOTE_SCHEDULE_STOP,
            obj=sched,
            patient=sched.patient,
            request=request,
        )
    return sched


def do_schedule_post_dose_links(*, patient: Patient, dose_time: dt.datetime, actor: User) -> list[RemoteLink]:
    """Called by the treatment app after each dose: one link per active post-dose schedule of the patient,
    opening `delay_hours` after `dose_time`. Runs inside the caller's transaction when there is one."""
    if timezone.is_naive(dose_time):
        raise ValidationFailed({"dose_time": ["must be timezone-aware"]})
    created: list[RemoteLink] = []
    with transaction.atomic():
        for sched in RemoteSchedule.objects.filter(
            patient=patient, kind=RemoteSchedule.Kind.POST_DOSE, active=True
        ).order_by("pk"):
            defn = load_instrument(sched.instrument_id)
            link = _new_link(
                patient=patient,
                defn=defn,
                available_from=dose_time + dt.timedelta(hours=sched.delay_hours or 0),
                valid_hours=sched.valid_hours,
                actor=None,
                schedule=sched,
                context=Context.POST_DOSE_24H if sched.delay_hours == 24 else Context.FOLLOW_UP,
            )
            record_audit(
                actor=actor if actor is not None else "scheduler",
                action=AuditAction.REMOTE_LINK_CREATE,
                obj=link,
                patient=patient,
                detail={"schedule": sched.pk, "dose_time": dose_time.isoformat(), "instrument": defn.id},
            )
            created.append(link)
    return created


def materialise_due_links(*, now: dt.datetime | None = None) -> list[RemoteLink]:
    """Create the links of every interval schedule that is due (run periodically by `ketaclinic run-schedules`).

    Missed periods are not back-filled: a late run makes one link per schedule, opening at the latest due time
    that is not after `now` (or at `now` if that link's validity has already run out, so a link is never born
    expired), and moves the next due time past `now`."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValidationFailed({"now": ["must be timezone-aware"]})
    created: list[RemoteLink] = []
    with transaction.atomic():
        for sched in (
            RemoteSchedule.objects.select_for_update()
            .select_related("patient")
            .filter(kind=RemoteSchedule.Kind.INTERVAL, active=True, next_due_at__lte=now)
            .order_by("pk")
        ):
            defn = load_instrument(sched.instrument_id)
            assert sched.next_due_at is not None and sched.interval_days
            step = dt.timedelta(days=sched.interval_days)
            opens = sched.next_due_at
            while opens + step <= now:
                opens += step
            if opens + dt.timedelta(hours=sched.valid_hours) <= now:
                opens = now
            nxt = sched.next_due_at + step
            while nxt <= now:
                nxt += step
            link = _new_link(
                patient=sched.patient,
                defn=defn,
                available_from=opens,
                valid_hours=sched.valid_hours,
                actor=None,
                schedule=sched,
                context=Context.FOLLOW_UP,
            )
            missed = (opens - sched.next_due_at) // step if opens > sched.next_due_at else 0
            sched.next_due_at = nxt
            sched.save(update_fields=["next_due_at"])
            record_audit(
                actor="scheduler",
                action=AuditAction.REMOTE_LINK_CREATE,
                obj=link,
                patient=sched.patient,
                detail={
                    "schedule": sched.pk,
                    "instrument": defn.id,
                    "opens": opens.isoformat(),
                    "next_due_at": nxt.isoformat(),
                    "missed_periods": missed,
                },
            )
            created.append(link)
    return created
