"""Thin views: the chart's Telehealth tab (visits, consent, scheduling) and the clinic's telehealth settings."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.core.telehealth import load_rules
from ketaclinic.web.access import clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.clinics.jurisdictions import JURISDICTION_CHOICES
from ketaclinic.web.lib.errors import DomainError, ValidationFailed
from ketaclinic.web.patients.views import chart_context, load_patient
from ketaclinic.web.telehealth import actions, selectors
from ketaclinic.web.telehealth.models import TelehealthConsent, Visit

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

PAGE_SIZE = 20
LEVEL_WORDS = {"block": "Not allowed", "review": "Needs review", "info": "Note"}
FIELD_LABELS = {
    "scheduled_for": "Date and time",
    "modality": "How",
    "patient_jurisdiction": "Where the patient will be",
    "activity": "What the visit is for",
    "drug": "Medicine",
    "clinician": "Clinician",
    "video_link": "Video link",
    "records_access": "Records access",
    "consent": "Consent to telehealth",
    "review_note": "Review note",
}


def clinicians_of(clinic: Clinic) -> list[Any]:
    """Active members of the clinic who may hold visits (prescribers, nurses, therapists)."""
    from ketaclinic.web.accounts.models import User

    users = User.objects.filter(
        memberships__clinic=clinic, memberships__is_active=True, is_active=True
    ).distinct()
    return [
        u
        for u in users.order_by("display_name", "username")
        if has_perm_in_clinic(u, clinic, Perm.TELEHEALTH_SCHEDULE)
    ]


def _parse_local_dt(raw: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _render_tab(
    request: SignedInRequest,
    patient: Patient,
    *,
    errors: dict[str, list[str]] | None = None,
    values: Any = None,
    status: int = 200,
) -> HttpResponse:
    ctx = chart_context(request, patient, "telehealth")
    page = Paginator(selectors.visits_for_patient(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    for v in page.object_list:
        v.finding_rows = [{**f, "level_words": LEVEL_WORDS.get(f["level"], f["level"])} for f in v.findings]
    now = timezone.now()
    ctx.update(
        {
            "page": page,
            "consents": list(selectors.consents_for_patient(patient)[:10]),
            "consent_now": selectors.consent_on_file(patient, now),
            "evaluations": selectors.in_person_evaluation_dates(patient),
            "can_schedule": has_perm_in_clinic(request.user, patient.clinic_id, Perm.TELEHEALTH_SCHEDULE),
            "modalities": Visit.Modality.choices,
            "activities": Visit.Activity.choices,
            "drugs": [("", "None"), *Visit.Drug.choices],
            "jurisdictions": JURISDICTION_CHOICES,
            "consent_methods": TelehealthConsent.Method.choices,
            "default_jurisdiction": patient.home_site.jurisdiction if patient.home_site else "",
            "default_when": timezone.localtime(now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:00"),
            "clinicians_options": [(u.pk, str(u)) for u in clinicians_of(patient.clinic)],
            "records_options": [("", "Not stated"), ("yes", "Yes"), ("no", "No")],
            "errors": errors or {},
            "error_rows": [(FIELD_LABELS.get(k, k), m) for k, msgs in (errors or {}).items() for m in msgs],
            "values": values,
            "ruleset_version": load_rules().version,
        }
    )
    return render(request, "telehealth/chart_tab.html", ctx, status=status)


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _render_tab(request, load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW))


@login_required
@require_POST
def schedule(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    when = _parse_local_dt(p.get("scheduled_for", ""))
    records = {"yes": True, "no": False}.get(p.get("records_access", ""))
    try:
        if p.get("scheduled_for") and when is None:
            raise ValidationFailed({"scheduled_for": ["must be a date and time"]})
        clinician = p.get("clinician", "")
        actions.do_schedule_visit(
            actor=request.user,
            patient_id=patient_id,
            clinician_id=int(clinician) if clinician.isdigit() else None,
            scheduled_for=when,
            modality=p.get("modality", ""),
            patient_jurisdiction=p.get("patient_jurisdiction", ""),
            activity=p.get("activity", ""),
            drug=p.get("drug", ""),
            video_link=p.get("video_link", ""),
            records_access=records,
            review_note=p.get("review_note", ""),
            request=request,
        )
    except ValidationFailed as exc:
        patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
        return _render_tab(request, patient, errors=exc.fields, values=p, status=400)
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, "Visit scheduled.")
    return redirect("telehealth:chart_tab", patient_id=patient_id)


def _post(request: SignedInRequest, patient_id: int, call: Any, ok: str) -> HttpResponse:
    try:
        call()
    except DomainError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items()) or exc.message
        messages.error(request, f"Nothing was saved: {detail}")
    else:
        messages.success(request, ok)
    return redirect("telehealth:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def close(request: SignedInRequest, patient_id: int, visit_id: int) -> HttpResponse:
    completed = request.POST.get("outcome") == "completed"
    return _post(
        request,
        patient_id,
        lambda: actions.do_close_visit(
            actor=request.user,
            visit_id=visit_id,
            completed=completed,
            reason=request.POST.get("reason", ""),
            request=request,
        ),
        "Visit completed." if completed else "Visit cancelled.",
    )


@login_required
@require_POST
def consent(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        lambda: actions.do_record_telehealth_consent(
            actor=request.user, patient_id=patient_id, method=request.POST.get("method", ""), request=request
        ),
        "Consent to telehealth recorded.",
    )


@login_required
@require_POST
def withdraw_consent(request: SignedInRequest, patient_id: int, consent_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        lambda: actions.do_withdraw_telehealth_consent(
            actor=request.user, consent_id=consent_id, request=request
        ),
        "Consent to telehealth withdrawn.",
    )


@login_required
def clinic_settings(request: SignedInRequest) -> HttpResponse:
    """The clinic's telehealth policy (tightening) and clinicians' licences; clinic admins only."""
    clinic = clinic_for_request(request)
    if clinic is None or not has_perm_in_clinic(request.user, clinic, Perm.CLINIC_ADMIN):
        raise Http404("no clinic you administer")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        p = request.POST
        try:
            if p.get("form") == "policy":
                days = p.get("in_person_evaluation_within_days", "").strip()
                if days and not days.isdigit():
                    raise ValidationFailed(
                        {"in_person_evaluation_within_days": ["must be a whole number of days"]}
                    )
                actions.do_set_telehealth_policy(
                    actor=request.user,
                    clinic=clinic,
                    policy={
                        "in_person_evaluation_within_days": int(days) if days else None,
                        "rely_on_flexibilities": p.get("rely_on_flexibilities") == "on",
                        "remote_modalities": p.getlist("remote_modalities"),
                        "require_telehealth_consent": p.get("require_telehealth_consent") == "on",
                    },
                    request=request,
                )
                messages.success(request, "Telehealth policy saved.")
            else:
                expires = p.get("expires_on", "").strip()
                try:
                    expires_on = dt.date.fromisoformat(expires) if expires else None
                except ValueError:
                    raise ValidationFailed({"expires_on": ["must be a date"]}) from None
                user = p.get("user", "")
                actions.do_record_clinician_licence(
                    actor=request.user,
                    clinic=clinic,
                    user_id=int(user) if user.isdigit() else None,
                    jurisdiction=p.get("jurisdiction", ""),
                    number=p.get("number", ""),
                    expires_on=expires_on,
                    request=request,
                )
                messages.success(request, "Licence recorded.")
            return redirect("telehealth:clinic_settings")
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
        except DomainError as exc:
            messages.error(request, f"Nothing was saved: {exc.message}")
    policy = selectors.telehealth_policy_for(clinic)
    ctx = {
        "clinic": clinic,
        "policy": policy,
        "licences": list(selectors.licences_for_clinic(clinic)[:200]),
        "clinicians": clinicians_of(clinic),
        "jurisdictions": JURISDICTION_CHOICES,
        "errors": errors,
        "values": request.POST if request.method == "POST" else None,
    }
    return render(request, "telehealth/clinic_settings.html", ctx, status=status)
