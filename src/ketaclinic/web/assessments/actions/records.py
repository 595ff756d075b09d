"""Recording a scored assessment: its FHIR records, its audit row and any suicide-risk alert it raises."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.questionnaire import build_questionnaire_response, build_score_observation
from ketaclinic.core.instruments import (
    Instrument,
    ScoreResult,
    score,
)
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.assessments.actions.common import (
    FUTURE_TOLERANCE,
    _alert_reasons,
    _context,
    _instrument,
    _patient_ref,
    item_errors,
    prescribers_for,
)
from ketaclinic.web.assessments.models import (
    Assessment,
    RemoteLink,
    Source,
    SuicideAlert,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group, notify_user

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient


def _store(
    *,
    patient: Patient,
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


def _after_store(
    a: Assessment, defn: Instrument, result: ScoreResult, *, actor: User | None, request: HttpRequest | None
) -> None:
    """Audit, raise the alert when needed, and notify after commit."""
    patient = a.patient
    record_audit(
        actor=actor if actor is not None else "remote-patient",
        action=AuditAction.ASSESSMENT_CREATE,
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
            action=AuditAction.SUICIDE_ALERT_RAISE,
            obj=alert,
            patient=patient,
            request=request,
            detail={"assessment": a.pk, "reasons": reasons, "notified": [u.pk for u in recipients]},
        )
        from ketaclinic.web.assessments.providers import SUICIDE_ALERT_HOOKS

        for hook in SUICIDE_ALERT_HOOKS:
            hook(alert, actor=actor, request=request)
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


def do_record_assessment(
    *,
    actor: User,
    patient_id: int,
    instrument_id: Any,
    answers: Any,
    context: Any,
    assessed_at: Any,
    source: str = Source.STAFF,
    request: HttpRequest | None = None,
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
