"""Thin views: the chart's Screening tab, intake forms, bundle upload, review, co-signature and consent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.errors import DomainError
from ketaclinic.web.patients.views import chart_context, load_patient
from ketaclinic.web.screening import actions, selectors


@login_required
def chart_tab(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id)
    ctx = chart_context(request, patient, "screening")
    run = selectors.screening_latest(patient)
    reviews = selectors.reviews_for(run) if run else {}
    ctx.update(
        {
            "run": run,
            "findings": [{**f, "review": reviews.get(str(f["code"]))} for f in (run.findings if run else [])],
            "trace": run.result.get("trace", []) if run else [],
            "cleared": selectors.screening_is_cleared(patient),
            "items": selectors.intake_items_for(patient),
            "consents": list(patient.consents.all()),
            "can_record": has_perm_in_clinic(request.user, patient.clinic_id, Perm.SCREENING_RECORD),
            "can_decide": has_perm_in_clinic(request.user, patient.clinic_id, Perm.SCREENING_DECIDE),
            "approvals": actions.approvals(),
        }
    )
    return render(request, "screening/chart_tab.html", ctx)


def _post(request: HttpRequest, patient_id: int, call: Callable[[], Any], ok: str) -> HttpResponse:
    try:
        call()
        messages.success(request, ok)
    except DomainError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items()) or exc.message
        messages.error(request, detail)
    return redirect("screening:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def import_bundle(request: HttpRequest, patient_id: int) -> HttpResponse:
    upload = request.FILES.get("bundle")

    def go() -> Any:
        try:
            doc = json.loads(upload.read().decode("utf-8")) if upload else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            from ketaclinic.web.lib.errors import ValidationFailed

            raise ValidationFailed({"bundle": [f"not a JSON file: {exc}"]}) from exc
        return actions.do_import_bundle(
            actor=request.user, patient_id=patient_id, bundle=doc, request=request
        )

    return _post(request, patient_id, go, "Bundle imported and screening re-run.")


@login_required
@require_POST
def add_condition(request: HttpRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        lambda: actions.do_record_condition(
            actor=request.user,
            patient_id=patient_id,
            system=p.get("system", ""),
            code=p.get("code", ""),
            clinical_status=p.get("clinical_status", ""),
            verification_status=p.get("verification_status", "confirmed"),
            onset=p.get("onset"),
            abatement=p.get("abatement"),
            text=p.get("text", ""),
            request=request,
        ),
        "Condition recorded; screening re-run.",
    )


@login_required
@require_POST
def add_medication(request: HttpRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        lambda: actions.do_record_medication(
            actor=request.user,
            patient_id=patient_id,
            rxnorm=p.get("rxnorm", ""),
            name=p.get("name", ""),
            status=p.get("status", "active"),
            start=p.get("start"),
            end=p.get("end"),
            request=request,
        ),
        "Medication recorded; screening re-run.",
    )


@login_required
@require_POST
def add_allergy(request: HttpRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        lambda: actions.do_record_allergy(
            actor=request.user,
            patient_id=patient_id,
            rxnorm=p.get("rxnorm", ""),
            snomed=p.get("snomed", ""),
            name=p.get("name", ""),
            clinical_status=p.get("clinical_status", "active"),
            request=request,
        ),
        "Allergy recorded; screening re-run.",
    )


@login_required
@require_POST
def add_vitals(request: HttpRequest, patient_id: int) -> HttpResponse:
    p = request.POST

    def go() -> None:
        if p.get("systolic") or p.get("diastolic"):
            actions.do_record_blood_pressure(
                actor=request.user,
                patient_id=patient_id,
                systolic=p.get("systolic"),
                diastolic=p.get("diastolic"),
                request=request,
            )
        if p.get("weight_kg"):
            actions.do_record_intake_weight(
                actor=request.user, patient_id=patient_id, weight_kg=p.get("weight_kg"), request=request
            )
        if p.get("pregnancy") in ("pregnant", "not_pregnant"):
            actions.do_record_pregnancy_status(
                actor=request.user,
                patient_id=patient_id,
                pregnant=p.get("pregnancy") == "pregnant",
                request=request,
            )

    return _post(request, patient_id, go, "Vitals recorded; screening re-run.")


@login_required
@require_POST
def rerun(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        lambda: actions.do_run_screening(
            actor=request.user, patient_id=patient_id, route=request.POST.get("route", ""), request=request
        ),
        "Screening re-run.",
    )


@login_required
@require_POST
def review(request: HttpRequest, patient_id: int, run_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        lambda: actions.do_review_finding(
            actor=request.user,
            patient_id=patient_id,
            run_id=run_id,
            finding_code=request.POST.get("finding_code", ""),
            reason=request.POST.get("reason", ""),
            request=request,
        ),
        "Decision recorded.",
    )


@login_required
@require_POST
def cosign(request: HttpRequest, patient_id: int, review_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        lambda: actions.do_cosign_override(
            actor=request.user, patient_id=patient_id, review_id=review_id, request=request
        ),
        "Override co-signed.",
    )


@login_required
@require_POST
def consent(request: HttpRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        lambda: actions.do_record_consent(
            actor=request.user,
            patient_id=patient_id,
            indication=p.get("indication", ""),
            product=p.get("product", ""),
            course_ref=p.get("course_ref", ""),
            patient_acknowledged_off_label=p.get("ack_off_label") == "on",
            request=request,
        ),
        "Consent recorded.",
    )
