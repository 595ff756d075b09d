"""Views of the safety-plan task: complete it on the Safety tab (errors at each section, values kept) and print it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed
from ketaclinic.web.patients.views import load_patient
from ketaclinic.web.surveillance import safetyplan
from ketaclinic.web.surveillance.views import chart_tab_response


@login_required
@require_POST
def complete(request: SignedInRequest, patient_id: int, plan_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, audit=False)
    if not safetyplan.safety_plans_for_patient(patient).filter(pk=plan_id).exists():
        raise NotFoundError("no such safety plan")
    values = {k: request.POST.get(k, "") for k in safetyplan.FIELDS}
    try:
        safetyplan.do_complete_safety_plan(
            actor=request.user, plan_id=plan_id, fields=values, request=request
        )
    except ValidationFailed as exc:
        return chart_tab_response(
            request, patient, extra={"plan_errors": exc.fields, "plan_values": values}, status=400
        )
    messages.success(request, "Safety plan completed.")
    return redirect("surveillance:chart_tab", patient_id=patient.pk)


@login_required
def print_plan(request: SignedInRequest, patient_id: int, plan_id: int) -> HttpResponse:
    """The plan on one printable page for the patient to keep (a read of the chart, audited)."""
    patient = load_patient(request, patient_id, audit=False)
    plan = safetyplan.safety_plans_for_patient(patient).filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("no such safety plan")
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.SAFETY_PLAN_PRINT,
            obj=plan,
            patient=patient,
            request=request,
        )
    return render(
        request,
        "surveillance/safety_plan_print.html",
        {"patient": patient, "plan": plan, "sections": safetyplan.sections_of(plan)},
    )
