"""Patient list with search, create/edit forms, the chart shell, history and FHIR export."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.lib.pagination import paginate
from ketaclinic.web.patients import actions, selectors
from ketaclinic.web.patients.actions import EDITABLE_FIELDS
from ketaclinic.web.patients.banner import patient_banner
from ketaclinic.web.patients.models import CareTeamMember, SexAtBirth
from ketaclinic.web.patients.tabs import CHART_TABS, chart_banners

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

PAGE_SIZE = 25
# Tabs with demographics and scheduling only; every other tab shows clinical data (Perm.CLINICAL_VIEW).
DEMOGRAPHIC_TABS = frozenset({"overview", "history"})


def load_patient(
    request: SignedInRequest, patient_id: int, *, perm: Perm = Perm.PATIENT_VIEW, audit: bool = True
) -> Any:
    """Fetch a patient for a view (audited read), turning access errors into 404/403 pages."""
    try:
        return access_patient_by_id(
            request.user,
            patient_id,
            perm=perm,
            request=request,
            audit_action=AuditAction.PATIENT_VIEW if audit else None,
        )
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def chart_context(request: SignedInRequest, patient: Patient, active_tab: str) -> dict[str, Any]:
    """Context every chart tab needs: header data, tabs, banners."""
    clinical = has_perm_in_clinic(request.user, patient.clinic_id, Perm.CLINICAL_VIEW)
    tabs = []
    for tab in CHART_TABS:
        if not clinical and tab.slug not in DEMOGRAPHIC_TABS:
            continue  # clinical tabs are not offered to roles that may not read clinical data
        try:
            url = reverse(tab.url_name, kwargs={"patient_id": patient.pk})
        except NoReverseMatch:
            continue  # the app providing this tab has no view yet
        tabs.append({"slug": tab.slug, "label": tab.label, "url": url, "active": tab.slug == active_tab})
    return {
        "patient": patient,
        "banner": patient_banner(patient, clinical=clinical),
        "tabs": tabs,
        "banners": chart_banners(patient) if clinical else [],
        "clinical": clinical,
        "age": patient.age_on(timezone.localdate()),
        "latest_weight": patient.latest_weight() if clinical else None,
        "can_edit": has_perm_in_clinic(request.user, patient.clinic_id, Perm.PATIENT_EDIT),
    }


@login_required
def patient_list(request: SignedInRequest) -> HttpResponse:
    clinic = clinic_for_request(request)
    query = request.GET.get("q", "")
    if clinic is None:
        return render(request, "patients/no_clinic.html", status=403)
    qs = selectors.patient_search(user=request.user, clinic=clinic, query=query)
    page = paginate(request, qs, per_page=PAGE_SIZE)
    if query:
        with transaction.atomic():
            record_audit(
                actor=request.user,
                action=AuditAction.PATIENT_SEARCH,
                clinic=clinic,
                request=request,
                detail={"query": query[:100], "results": page.paginator.count},
            )
    context = {
        "page": page,
        "query": query,
        "can_create": has_perm_in_clinic(request.user, clinic, Perm.PATIENT_EDIT),
    }
    template = "patients/_results.html" if getattr(request, "htmx", False) else "patients/list.html"
    return render(request, template, context)


#: The form's labels, which its error summary uses to name each field.
FIELD_LABELS = {
    "mrn": "MRN",
    "given_name": "Given name",
    "family_name": "Family name",
    "birth_date": "Birth date",
    "sex_at_birth": "Sex at birth",
    "initial_weight_kg": "Weight today (kg)",
    "phone": "Phone",
    "email": "Email",
    "address_line": "Address",
    "city": "City",
    "postal_code": "Postal code",
    "emergency_contact_name": "Emergency contact name",
    "emergency_contact_phone": "Emergency contact phone",
    "emergency_contact_relationship": "Emergency contact relationship",
    "referring_clinician": "Referring clinician",
    "referring_clinician_contact": "Referrer contact",
}
WEIGHT_HINT = f"Optional; {float(actions.MIN_WEIGHT_KG):g} to {float(actions.MAX_WEIGHT_KG):g} kg"


def _form_values(request: SignedInRequest) -> dict[str, Any]:
    return {name: request.POST.get(name, "") for name in EDITABLE_FIELDS if name in request.POST}


@login_required
def patient_create(request: SignedInRequest) -> HttpResponse:
    clinic = clinic_for_request(request)
    if clinic is None or not has_perm_in_clinic(request.user, clinic, Perm.PATIENT_EDIT):
        raise PermissionDeniedError("your role does not allow registering patients")
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = _form_values(request)
        weight = request.POST.get("initial_weight_kg", "").strip()
        try:
            patient = actions.do_create_patient(
                actor=request.user, clinic=clinic, values=values, initial_weight_kg=weight, request=request
            )
            messages.success(request, f"Registered {patient.full_name} (MRN {patient.mrn}).")
            return redirect("patients:chart", patient_id=patient.pk)
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
        values["initial_weight_kg"] = weight
    return render(
        request,
        "patients/form.html",
        {
            "values": values,
            "errors": errors,
            "sexes": SexAtBirth.choices,
            "creating": True,
            "labels": FIELD_LABELS,
            "weight_hint": WEIGHT_HINT,
        },
        status=status,
    )


@login_required
def patient_edit(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, perm=Perm.PATIENT_EDIT, audit=request.method == "GET")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = _form_values(request)
        try:
            actions.do_update_patient(
                actor=request.user, patient_id=patient.pk, values=values, request=request
            )
            messages.success(request, "Patient details saved.")
            return redirect("patients:chart", patient_id=patient.pk)
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
    else:
        values = {name: getattr(patient, name) for name in EDITABLE_FIELDS}
        values["birth_date"] = patient.birth_date.isoformat()
    ctx = chart_context(request, patient, "overview")
    ctx.update(
        {
            "values": values,
            "errors": errors,
            "sexes": SexAtBirth.choices,
            "creating": False,
            "labels": FIELD_LABELS,
        }
    )
    return render(request, "patients/form.html", ctx, status=status)


@login_required
def chart(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id)
    ctx = chart_context(request, patient, "overview")
    ctx.update(
        {
            "weights": patient.weights.select_related("recorded_by")[:10] if ctx["clinical"] else [],
            "care_team": patient.care_team.select_related("user"),
            "team_roles": CareTeamMember.TeamRole.choices,
            "staff": _clinic_staff(patient.clinic),
        }
    )
    return render(request, "patients/chart.html", ctx)


def _clinic_staff(clinic: Clinic) -> list[Any]:
    from ketaclinic.web.accounts.models import User, effective_membership_q

    return list(
        User.objects.filter(
            effective_membership_q("memberships__"), memberships__clinic=clinic, is_active=True
        )
        .distinct()
        .order_by("username")
    )


@login_required
def record_weight(request: SignedInRequest, patient_id: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("patients:chart", patient_id=patient_id)
    measured_raw = request.POST.get("measured_at", "").strip()
    measured_at = None
    try:
        if measured_raw:
            measured_at = dt.datetime.fromisoformat(measured_raw)
            if timezone.is_naive(measured_at):
                measured_at = timezone.make_aware(measured_at)
        actions.do_record_weight(
            actor=request.user,
            patient_id=patient_id,
            weight_kg=request.POST.get("weight_kg", ""),
            measured_at=measured_at,
            request=request,
        )
        messages.success(request, "Weight recorded.")
    except ValueError:
        messages.error(request, "measured_at: must be a date and time")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("patients:chart", patient_id=patient_id)


@login_required
def add_care_team(request: SignedInRequest, patient_id: int) -> HttpResponse:
    if request.method == "POST":
        try:
            actions.do_add_care_team_member(
                actor=request.user,
                patient_id=patient_id,
                user_id=int(request.POST.get("user_id") or 0),
                team_role=request.POST.get("team_role", ""),
                request=request,
            )
            messages.success(request, "Care team updated.")
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("patients:chart", patient_id=patient_id)


@login_required
def history(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id)
    ctx = chart_context(request, patient, "history")
    ctx["versions"] = patient.versions.select_related("changed_by").order_by("-version")
    return render(request, "patients/history.html", ctx)


@login_required
def fhir_export(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, audit=False)
    with transaction.atomic():
        record_audit(actor=request.user, action=AuditAction.PATIENT_EXPORT_FHIR, obj=patient, request=request)
    response = JsonResponse(selectors.patient_fhir(patient), json_dumps_params={"indent": 2})
    response["Content-Type"] = "application/fhir+json"
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}.json"'
    return response
