"""Thin views: the chart's Therapy tab, one psychotherapy note (author and shared-with only), authorisations, export."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_psychotherapy_note_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError, NotFoundError, ValidationFailed
from ketaclinic.web.patients.views import chart_context, load_patient
from ketaclinic.web.therapy import actions, selectors
from ketaclinic.web.therapy.fhir import export_bundle
from ketaclinic.web.therapy.models import TherapySession

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

PAGE_SIZE = 20
FIELD_LABELS = {
    "kind": "Kind of session",
    "approach": "Approach",
    "modality": "How",
    "held_at": "Held at",
    "duration_min": "Duration",
    "dosing_session": "Dosing session",
    "intention": "Intention",
    "themes": "Themes",
    "plan": "Plan",
    "wellbeing": "Wellbeing",
    "session_rating": "Usefulness",
    "note_text": "Psychotherapy note",
    "recipient": "Recipient",
    "purpose": "Purpose",
    "signed_on": "Signed on",
    "expires_on": "Expires on",
    "user": "Colleague",
}


def _int(raw: str, field: str, errors: dict[str, list[str]]) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.lstrip("-").isdigit():
        errors[field] = ["must be a whole number"]
        return None
    return int(raw)


def _date(raw: str, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = ["must be a date"]
        return None


def _render_tab(
    request: SignedInRequest,
    patient: Patient,
    *,
    errors: dict[str, list[str]] | None = None,
    values: Any = None,
    status: int = 200,
) -> HttpResponse:
    from ketaclinic.web.treatment.selectors import sessions_for_patient as dosing_sessions

    ctx = chart_context(request, patient, "therapy")
    page = Paginator(selectors.sessions_for_patient(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    can_record = has_perm_in_clinic(request.user, patient.clinic_id, Perm.THERAPY_RECORD)
    ctx.update(
        {
            "page": page,
            "note_counts": selectors.note_counts_by_session(patient),
            "my_notes": list(selectors.notes_visible_to(request.user, patient)[:50]),
            "integration": selectors.integration_status(patient, patient.clinic),
            "window_days": selectors.integration_window_days(patient.clinic),
            "authorisations": list(selectors.authorisations_for_patient(patient)[:20]),
            "authorised_now": selectors.active_notes_authorisation(patient, timezone.localdate()),
            "can_record": can_record,
            "dosing_options": [("", "None")]
            + [
                (
                    s.pk,
                    f"{timezone.localtime(s.first_dose_at or s.scheduled_for):%Y-%m-%d %H:%M} ({s.get_status_display().lower()})",
                )
                for s in dosing_sessions(patient).exclude(status="cancelled").order_by("-scheduled_for")[:30]
            ],
            "kinds": TherapySession.Kind.choices,
            "approaches": TherapySession.Approach.choices,
            "modalities": TherapySession.Modality.choices,
            "default_when": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "errors": errors or {},
            "error_rows": [(FIELD_LABELS.get(k, k), m) for k, msgs in (errors or {}).items() for m in msgs],
            "values": values,
        }
    )
    return render(request, "therapy/chart_tab.html", ctx, status=status)


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _render_tab(request, load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW))


@login_required
@require_POST
def record_session(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    errors: dict[str, list[str]] = {}
    held_at = None
    if p.get("held_at"):
        try:
            held_at = dt.datetime.fromisoformat(p["held_at"])
            if timezone.is_naive(held_at):
                held_at = timezone.make_aware(held_at)
        except ValueError:
            errors["held_at"] = ["must be a date and time"]
    duration = _int(p.get("duration_min", ""), "duration_min", errors)
    wellbeing = _int(p.get("wellbeing", ""), "wellbeing", errors)
    rating = _int(p.get("session_rating", ""), "session_rating", errors)
    dosing = _int(p.get("dosing_session", ""), "dosing_session", errors)
    try:
        if errors:
            raise ValidationFailed(errors)
        actions.do_record_therapy_session(
            actor=request.user,
            patient_id=patient_id,
            kind=p.get("kind", ""),
            approach=p.get("approach", ""),
            modality=p.get("modality", ""),
            held_at=held_at,
            duration_min=duration,
            dosing_session_id=dosing,
            intention=p.get("intention", ""),
            themes=p.get("themes", ""),
            plan=p.get("plan", ""),
            wellbeing=wellbeing,
            session_rating=rating,
            safety_concern=p.get("safety_concern") == "on",
            note_text=p.get("note_text", ""),
            request=request,
        )
    except ValidationFailed as exc:
        patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
        return _render_tab(request, patient, errors=exc.fields, values=p, status=400)
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, "Session recorded.")
    return redirect("therapy:chart_tab", patient_id=patient_id)


@login_required
def note(request: SignedInRequest, note_id: int) -> HttpResponse:
    """One psychotherapy note: its author and whom they shared it with; everyone else gets 404."""
    try:
        n = access_psychotherapy_note_by_id(request.user, note_id, request=request)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    from ketaclinic.web.telehealth.views import clinicians_of

    colleagues = [u for u in clinicians_of(n.patient.clinic) if u.pk != request.user.pk]
    ctx = {
        "note": n,
        "is_author": n.author_id == request.user.pk,
        "shares": list(n.shares.select_related("user")),
        "colleagues": colleagues,
    }
    return render(request, "therapy/note.html", ctx)


@login_required
@require_POST
def share_note(request: SignedInRequest, note_id: int) -> HttpResponse:
    user = request.POST.get("user", "")
    try:
        actions.do_share_psychotherapy_note(
            actor=request.user,
            note_id=note_id,
            user_id=int(user) if user.isdigit() else None,
            request=request,
        )
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        detail = (
            "; ".join(f"{FIELD_LABELS.get(k, k)}: {' '.join(v)}" for k, v in exc.fields.items())
            or exc.message
        )
        messages.error(request, f"Not shared: {detail}")
    else:
        messages.success(request, "Note shared.")
    return redirect("therapy:note", note_id=note_id)


@login_required
@require_POST
def authorise(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    errors: dict[str, list[str]] = {}
    signed_on = _date(p.get("signed_on", ""), "signed_on", errors)
    expires_on = _date(p.get("expires_on", ""), "expires_on", errors)
    try:
        if errors:
            raise ValidationFailed(errors)
        actions.do_record_notes_authorisation(
            actor=request.user,
            patient_id=patient_id,
            recipient=p.get("recipient", ""),
            purpose=p.get("purpose", ""),
            signed_on=signed_on,
            expires_on=expires_on,
            request=request,
        )
    except ValidationFailed as exc:
        patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
        return _render_tab(request, patient, errors=exc.fields, values=p, status=400)
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, "Authorisation recorded.")
    return redirect("therapy:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def revoke(request: SignedInRequest, patient_id: int, authorisation_id: int) -> HttpResponse:
    try:
        actions.do_revoke_notes_authorisation(
            actor=request.user, authorisation_id=authorisation_id, request=request
        )
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, "Authorisation revoked.")
    return redirect("therapy:chart_tab", patient_id=patient_id)


@login_required
def export(request: SignedInRequest, patient_id: int) -> HttpResponse:
    """The therapy record as a FHIR Bundle (JSON); psychotherapy notes only under the patient's authorisation."""
    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
    bundle, notes = export_bundle(patient, request.user, on=timezone.localdate())
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.THERAPY_EXPORT,
            obj=patient,
            request=request,
            detail={"resources": len(bundle["entry"]), "psychotherapy_notes": notes},
        )
    resp = HttpResponse(json.dumps(bundle, indent=1), content_type="application/fhir+json")
    resp["Content-Disposition"] = f'attachment; filename="therapy-{patient.mrn}.json"'
    return resp
