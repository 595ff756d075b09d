"""Writes of this domain: record assessments, remote links and schedules, raise and acknowledge suicide-risk alerts.

Each action validates, runs in one transaction with its audit record, and sends live events after commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaclinic.core.fhir.questionnaire import build_questionnaire_response, build_score_observation
from ketaclinic.core.instruments import (
    INSTRUMENT_IDS,
    AnswerError,
    Instrument,
    ScoreResult,
    load_instrument,
    score,
)
from ketaclinic.web.accounts.roles import Perm, require_perm
from ketaclinic.web.assessments.models import (
    Assessment,
    Context,
    RemoteLink,
    RemoteSchedule,
    Source,
    SuicideAlert,
)
from ketaclinic.web.lib.access import access_patient_by_id
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group, notify_user

LINK_SALT = "ketaclinic.assessments.remote-link"
#: Instruments a patient may answer through a remote link (issue 3).
REMOTE_INSTRUMENTS: tuple[str, ...] = (
    "phq9",
    "gad7",
    "pcl5",
    "qids-sr16",
    "cssrs-screener",
    "craving",
    "side-effects",
    "peg",
)
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
MAX_LINK_HOURS = 24 * 14


# ------------------------------------------------------------------ helpers


def _instrument(
    instrument_id: Any, errors: dict[str, list[str]], *, remote: bool = False
) -> Instrument | None:
    if not isinstance(instrument_id, str) or instrument_id not in INSTRUMENT_IDS:
        errors["instrument"] = [f"unknown instrument {instrument_id!r}; known: {', '.join(INSTRUMENT_IDS)}"]
        return None
    if remote and instrument_id not in REMOTE_INSTRUMENTS:
        errors["instrument"] = [f"{instrument_id} cannot be sent as a remote questionnaire"]
        return None
    return load_instrument(instrument_id)


def _context(value: Any, errors: dict[str, list[str]]) -> str:
    if value not in Context.values:
        errors["context"] = [f"must be one of {', '.join(Context.values)}"]
    return str(value)


def _score(defn: Instrument, answers: Any, errors: dict[str, list[str]]) -> ScoreResult | None:
    try:
        return score(defn, answers)
    except AnswerError as exc:
        key = "answers" if exc.item is None else f"item_{defn.item(exc.item).code}"
        errors[key] = [exc.reason]
        return None


def item_errors(defn: Instrument, answers: Sequence[Any]) -> dict[str, list[str]]:
    """Check every item (not just the first bad one) so a form can show all problems at once."""
    errors: dict[str, list[str]] = {}
    if len(answers) != len(defn.items):
        return {"answers": [f"{defn.short_title} has {len(defn.items)} items; got {len(answers)} answers"]}
    for item, value in zip(defn.items, answers, strict=True):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[f"item_{item.code}"] = [f"{value!r} is not an integer"]
        elif value not in item.allowed_values:
            errors[f"item_{item.code}"] = [
                f"{value} is out of range; allowed {item.min_value}-{item.max_value}"
            ]
    if not errors:
        _score(defn, list(answers), errors)
    return errors


def _patient_ref(patient: Any) -> str:
    return f"Patient/{patient.pk}"


def prescribers_for(patient: Any) -> list[Any]:
    """The patient's prescriber(s): care-team prescribers who still prescribe in the clinic, else every
    active prescriber of the clinic (an alert must always reach someone)."""
    from ketaclinic.web.accounts.models import Membership, User, effective_membership_q
    from ketaclinic.web.patients.models import CareTeamMember

    prescriber_ids = set(
        Membership.objects.filter(
            effective_membership_q(), clinic_id=patient.clinic_id, role="prescriber"
        ).values_list("user_id", flat=True)
    )
    team = set(
        CareTeamMember.objects.filter(patient=patient, team_role="prescriber").values_list(
            "user_id", flat=True
        )
    )
    chosen = (team & prescriber_ids) or prescriber_ids
    return list(User.objects.filter(pk__in=chosen, is_active=True).order_by("pk"))


def _alert_reasons(defn: Instrument, result: ScoreResult) -> list[str]:
    return list(result.suicide_risk_reasons)


def _store(
    *,
    patient: Any,
    defn: Instrument,
    result: ScoreResult,
    context: str,
    assessed_at: dt.datetime,
    source: str,
    recorded_by: Any,
    remote_link: RemoteLink | None,
) -> Assessment:
    a = Assessment.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        instrument_id=defn.id,
        instrument_version=defn.version,
        context=context,
        assessed_at=assessed_at,
        answers=list(result.answers),
        complete=result.complete,
        total=result.total,
        severity=result.severity or "",
        flags=list(result.flag_codes),
        suicide_risk=result.suicide_risk,
        source=source,
        recorded_by=recorded_by,
        remote_link=remote_link,
        fhir_response={},
    )
    qr = build_questionnaire_response(
        defn,
        result,
        patient_ref=_patient_ref(patient),
        authored=assessed_at,
        resource_id=f"assessment-{a.pk}",
        author_ref=(f"Practitioner/{recorded_by.pk}" if recorded_by is not None else None),
        source_ref=(_patient_ref(patient) if source == Source.REMOTE else None),
    )
    obs = build_score_observation(
        defn,
        result,
        patient_ref=_patient_ref(patient),
        effective=assessed_at,
        resource_id=f"assessment-{a.pk}-score",
        derived_from_ref=f"QuestionnaireResponse/assessment-{a.pk}",
    )
    Assessment.objects.filter(pk=a.pk).update(fhir_response=qr, fhir_observation=obs)
    a.fhir_response, a.fhir_observation = qr, obs
    return a


def _after_store(a: Assessment, defn: Instrument, result: ScoreResult, *, actor: Any, request: Any) -> None:
    """Audit, raise the alert when needed, and notify after commit."""
    patient = a.patient
    record_audit(
        actor=actor if actor is not None else "remote-patient",
        action="assessment.create",
        obj=a,
        patient=patient,
        request=request,
        detail={
            "instrument": a.instrument_id,
            "version": a.instrument_version,
            "context": a.context,
            "source": a.source,
            "complete": a.complete,
            "total": a.total,
            "severity": a.severity,
            "flags": a.flags,
        },
    )
    reasons = _alert_reasons(defn, result)
    if reasons:
        recipients = prescribers_for(patient)
        alert = SuicideAlert.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            assessment=a,
            reasons=reasons,
            raised_at=timezone.now(),
            notified_user_ids=[u.pk for u in recipients],
        )
        record_audit(
            actor=actor if actor is not None else "remote-patient",
            action="suicide_alert.raise",
            obj=alert,
            patient=patient,
            request=request,
            detail={"assessment": a.pk, "reasons": reasons, "notified": [u.pk for u in recipients]},
        )
        url = reverse("assessments:chart_tab", kwargs={"patient_id": patient.pk})
        event = {
            "type": "alert",
            "kind": "suicide_risk",
            "level": "danger",
            "title": f"Suicide-risk alert: {patient.full_name} ({patient.mrn}) — {reasons[0]}",
            "url": url,
            "patient_id": patient.pk,
            "alert_id": alert.pk,
        }
        for u in recipients:
            notify_user(u.pk, event)
    notify_group(
        clinic_group(patient.clinic_id),
        {
            "type": "assessment.recorded",
            "patient_id": patient.pk,
            "instrument": a.instrument_id,
            "assessment_id": a.pk,
        },
    )


# ------------------------------------------------------------------ assessments


def do_record_assessment(
    *,
    actor: Any,
    patient_id: int,
    instrument_id: Any,
    answers: Any,
    context: Any,
    assessed_at: Any,
    source: str = Source.STAFF,
    request: Any = None,
) -> Assessment:
    """Record an assessment entered by staff. A partially answered form is saved as incomplete."""
    errors: dict[str, list[str]] = {}
    defn = _instrument(instrument_id, errors)
    context = _context(context, errors)
    if not isinstance(assessed_at, dt.datetime) or timezone.is_naive(assessed_at):
        errors["assessed_at"] = ["must be a timezone-aware date and time"]
    elif assessed_at > timezone.now() + FUTURE_TOLERANCE:
        errors["assessed_at"] = ["is in the future"]
    if defn is not None:
        if not isinstance(answers, list | tuple):
            errors["answers"] = ["must be a list of item values"]
        else:
            errors.update(item_errors(defn, answers))
    if errors:
        raise ValidationFailed(errors)
    assert defn is not None
    result = score(defn, list(answers))
    if result.answered_count == 0:
        raise ValidationFailed({"answers": ["no item answered"]})
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        a = _store(
            patient=patient,
            defn=defn,
            result=result,
            context=context,
            assessed_at=assessed_at,
            source=source,
            recorded_by=actor,
            remote_link=None,
        )
        _after_store(a, defn, result, actor=actor, request=request)
    return a


# ------------------------------------------------------------------ remote links


def link_token(link: RemoteLink) -> str:
    return signing.dumps({"l": link.pk, "n": link.nonce}, salt=LINK_SALT, compress=True)


def link_url(link: RemoteLink) -> str:
    return reverse("assessments:remote", kwargs={"token": link_token(link)})


def _new_link(
    *,
    patient: Any,
    defn: Instrument,
    available_from: dt.datetime,
    valid_hours: int,
    actor: Any,
    schedule: RemoteSchedule | None,
    context: str,
) -> RemoteLink:
    return RemoteLink.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        instrument_id=defn.id,
        nonce=secrets.token_urlsafe(24),
        context=context,
        available_from=available_from,
        expires_at=available_from + dt.timedelta(hours=valid_hours),
        created_by=actor,
        schedule=schedule,
    )


def create_followup_link(
    *, patient: Any, instrument_id: str, available_from: dt.datetime, valid_hours: int, actor: Any
) -> RemoteLink:
    """A personal follow-up link that opens later (another app's follow-up schedule); the caller audits it
    inside its own transaction."""
    defn = load_instrument(instrument_id)
    if instrument_id not in REMOTE_INSTRUMENTS:
        raise ValidationFailed(
            {"instrument": [f"{defn.short_title} cannot be sent as a remote questionnaire"]}
        )
    return _new_link(
        patient=patient,
        defn=defn,
        available_from=available_from,
        valid_hours=valid_hours,
        actor=actor,
        schedule=None,
        context=Context.FOLLOW_UP,
    )


def _valid_hours(value: Any, errors: dict[str, list[str]], key: str = "valid_hours") -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        errors[key] = ["must be a whole number of hours"]
        return 0
    if not 1 <= hours <= MAX_LINK_HOURS:
        errors[key] = [f"must be between 1 and {MAX_LINK_HOURS} hours"]
    return hours


def do_create_remote_link(
    *, actor: Any, patient_id: int, instrument_id: Any, valid_hours: Any = 72, request: Any = None
) -> tuple[RemoteLink, str]:
    """Create a personal link for one patient and one instrument; returns the link and its URL path."""
    errors: dict[str, list[str]] = {}
    defn = _instrument(instrument_id, errors, remote=True)
    hours = _valid_hours(valid_hours, errors)
    if errors:
        raise ValidationFailed(errors)
    assert defn is not None
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        link = _new_link(
            patient=patient,
            defn=defn,
            available_from=timezone.now(),
            valid_hours=hours,
            actor=actor,
            schedule=None,
            context=Context.FOLLOW_UP,
        )
        record_audit(
            actor=actor,
            action="remote_link.create",
            obj=link,
            patient=patient,
            request=request,
            detail={"instrument": defn.id, "expires_at": link.expires_at.isoformat()},
        )
    return link, link_url(link)


def do_revoke_remote_link(*, actor: Any, link_id: int, request: Any = None) -> RemoteLink:
    with transaction.atomic():
        link = RemoteLink.objects.select_for_update().filter(pk=link_id).first()
        if link is None:
            raise NotFoundError("no such link")
        access_patient_by_id(
            actor, link.patient_id, perm=Perm.ASSESSMENT_RECORD, audit_action=None, request=request
        )
        if link.used_at is not None:
            raise ConflictError("the link has already been answered")
        if link.revoked_at is not None:
            raise ConflictError("the link is already revoked")
        link.revoked_at = timezone.now()
        link.revoked_by = actor
        link.save(update_fields=["revoked_at", "revoked_by"])
        record_audit(
            actor=actor, action="remote_link.revoke", obj=link, patient=link.patient, request=request
        )
    return link


class LinkUnavailable(ConflictError):
    """The link cannot be answered now; `reason` is one of invalid, revoked, answered, expired, scheduled."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def resolve_link(token: str, *, for_update: bool = False) -> RemoteLink:
    """The link a token names, or LinkUnavailable. Checks the signature, nonce, revocation, use and expiry."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        raise LinkUnavailable("invalid", "This link is not valid.") from None
    if not isinstance(data, dict):
        raise LinkUnavailable("invalid", "This link is not valid.")
    qs = RemoteLink.objects.select_related("patient", "clinic")
    if for_update:
        qs = qs.select_for_update()
    link = qs.filter(pk=data.get("l"), nonce=data.get("n")).first()
    if link is None:
        raise LinkUnavailable("invalid", "This link is not valid.")
    status = link.status_at(timezone.now())
    messages = {
        "revoked": "This link has been withdrawn by your clinic.",
        "answered": "This questionnaire has already been answered. Thank you.",
        "expired": "This link has expired. Please contact your clinic for a new one.",
        "scheduled": f"This questionnaire opens on {timezone.localtime(link.available_from):%Y-%m-%d %H:%M}.",
    }
    if status != "open":
        raise LinkUnavailable(status, messages[status])
    return link


def do_submit_remote_answers(*, token: str, answers: Any, request: Any = None) -> Assessment:
    """The patient answers through the link (no login). All items must be answered; the link is then used."""
    with transaction.atomic():
        link = resolve_link(token, for_update=True)
        defn = load_instrument(link.instrument_id)
        if not isinstance(answers, list | tuple):
            raise ValidationFailed({"answers": ["must be a list of item values"]})
        errors = item_errors(defn, answers)
        if errors:
            raise ValidationFailed(errors)
        result = score(defn, list(answers))
        if not result.complete:
            raise ValidationFailed(
                {f"item_{code}": ["please answer this question"] for code in result.missing_items}
            )
        now = timezone.now()
        a = _store(
            patient=link.patient,
            defn=defn,
            result=result,
            context=link.context,
            assessed_at=now,
            source=Source.REMOTE,
            recorded_by=None,
            remote_link=link,
        )
        link.used_at = now
        link.assessment = a
        link.save(update_fields=["used_at", "assessment"])
        _after_store(a, defn, result, actor=None, request=request)
    return a


# ------------------------------------------------------------------ schedules


def do_create_schedule(
    *,
    actor: Any,
    patient_id: int,
    instrument_id: Any,
    kind: Any,
    interval_days: Any = None,
    delay_hours: Any = None,
    valid_hours: Any = 72,
    request: Any = None,
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
            action="remote_schedule.create",
            obj=sched,
            patient=patient,
            request=request,
            detail={"instrument": defn.id, "kind": kind, "interval_days": days, "delay_hours": delay},
        )
    return sched


def do_deactivate_schedule(*, actor: Any, schedule_id: int, request: Any = None) -> RemoteSchedule:
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
            actor=actor, action="remote_schedule.stop", obj=sched, patient=sched.patient, request=request
        )
    return sched


def do_schedule_post_dose_links(*, patient: Any, dose_time: dt.datetime, actor: Any) -> list[RemoteLink]:
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
                action="remote_link.create",
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
                action="remote_link.create",
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


# ------------------------------------------------------------------ alerts


def do_acknowledge_alert(
    *, actor: Any, alert_id: int, action: Any, note: Any, request: Any = None
) -> SuicideAlert:
    """A prescriber acknowledges an alert with a documented action (safety plan, contact, referral)."""
    errors: dict[str, list[str]] = {}
    if action not in SuicideAlert.Action.values:
        errors["action"] = [f"must be one of {', '.join(SuicideAlert.Action.values)}"]
    note_text = str(note or "").strip()
    if not note_text:
        errors["note"] = ["document what was done"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        alert = SuicideAlert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFoundError("no such alert")
        patient = access_patient_by_id(actor, alert.patient_id, audit_action=None, request=request)
        require_perm(actor, patient.clinic_id, Perm.ALERT_ACKNOWLEDGE)
        if alert.acknowledged_at is not None:
            raise ConflictError("the alert is already acknowledged")
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = actor
        alert.action = action
        alert.note = note_text[:4000]
        alert.save(update_fields=["acknowledged_at", "acknowledged_by", "action", "note"])
        record_audit(
            actor=actor,
            action="suicide_alert.acknowledge",
            obj=alert,
            patient=patient,
            request=request,
            detail={"action": action, "note": alert.note},
        )
        notify_group(
            clinic_group(patient.clinic_id),
            {"type": "suicide_alert.acknowledged", "patient_id": patient.pk, "alert_id": alert.pk},
        )
    return alert
