"""Thin views: the chart's Screening tab, intake forms, bundle upload, review, co-signature and consent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.core.jsonlimits import FHIR_MAX_DEPTH, loads_limited
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.errors import DomainError, ValidationFailed
from ketaclinic.web.patients.views import chart_context, load_patient
from ketaclinic.web.screening import actions, selectors

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

CHOICES: dict[str, list[tuple[str, str]]] = {
    "system": [("icd10cm", "ICD-10-CM"), ("snomed", "SNOMED CT")],
    "clinical_status": [(v, v) for v in actions.CLINICAL_STATUSES],
    "verification_status": [(v, v) for v in actions.VERIFICATION_STATUSES],
    "medication_status": [(v, v) for v in actions.MEDICATION_STATUSES],
    "allergy_status": [(v, v) for v in ("active", "inactive", "resolved")],
    "pregnancy": [("", "not recorded"), ("not_pregnant", "not pregnant"), ("pregnant", "pregnant")],
}


#: Finding levels in words (the code stays in the row's tooltip and data attribute).
LEVEL_LABELS = {
    "absolute": "Absolute contraindication",
    "relative": "Needs prescriber review",
    "caution": "Caution",
}


def _finding_label(code: str) -> str:
    """The rule's own wording for a finding code (e.g. "Active pregnancy"), or the code for an unknown rule."""
    from ketaclinic.core.screening import load_ruleset

    try:
        return load_ruleset().rule(code).message
    except KeyError:
        return code


def _evidence_index(patient: Patient, items: list[Any]) -> dict[str, str]:
    """'ResourceType/id' -> a human description of the intake item behind it (finding evidence -> its source)."""
    out: dict[str, str] = {}
    for i in items:
        rid = i.resource.get("id")
        if rid:
            who = i.recorded_by.display_name if i.recorded_by else ""
            out[f"{i.kind}/{rid}"] = (
                f"{i.summary} ({i.get_source_display().lower()}, {who}, {timezone.localtime(i.recorded_at):%Y-%m-%d})"
            )
    for w in patient.weights.all():
        out[f"Observation/weight-{w.pk}"] = f"weight {w.weight_kg} kg ({w.measured_at:%Y-%m-%d})"
    return out


def _render_tab(
    request: SignedInRequest,
    patient: Patient,
    *,
    form: str | None = None,
    errors: dict[str, list[str]] | None = None,
    values: Any = None,
    status: int = 200,
) -> HttpResponse:
    ctx = chart_context(request, patient, "screening")
    run = selectors.screening_latest(patient)
    reviews = selectors.reviews_for(run) if run else {}
    items = selectors.intake_items_for(patient)
    for i in items:
        i.withdraw_key = f"withdraw-{i.pk}"  # type: ignore[attr-defined]
    index = _evidence_index(patient, items)
    findings = []
    for f in run.findings if run else []:
        refs = f.get("evidence", [])
        evidence = [
            {"ref": str(ref), "source": index.get(str(ref), "")}
            for ref in (refs if isinstance(refs, list) else [])
        ]
        findings.append(
            {
                **f,
                "label": _finding_label(str(f["code"])),
                "level_label": LEVEL_LABELS.get(str(f.get("level")), str(f.get("level"))),
                "review": reviews.get(str(f["code"])),
                "evidence_items": evidence,
            }
        )
    ctx.update(
        {
            "run": run,
            "findings": findings,
            "trace": run.result.get("trace", []) if run else [],
            "cleared": selectors.screening_is_cleared(patient),
            "items": items,
            "consents": list(patient.consents.all()),
            "can_record": has_perm_in_clinic(request.user, patient.clinic_id, Perm.SCREENING_RECORD),
            "can_decide": has_perm_in_clinic(request.user, patient.clinic_id, Perm.SCREENING_DECIDE),
            "approvals": actions.approvals(),
            "choices": CHOICES,
            "form_errors": {form: errors or {}} if form else {},
            "form_values": {form: values} if form and values is not None else {},
        }
    )
    return render(request, "screening/chart_tab.html", ctx, status=status)


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW)
    return _render_tab(request, patient)


def _post(request: SignedInRequest, patient_id: int, call: Callable[[], Any], ok: str) -> HttpResponse:
    try:
        call()
        messages.success(request, ok)
    except DomainError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items()) or exc.message
        messages.error(request, detail)
    return redirect("screening:chart_tab", patient_id=patient_id)


def _intake_post(
    request: SignedInRequest, patient_id: int, form: str, call: Callable[[], Any], ok: str
) -> HttpResponse:
    """Run an intake action; on invalid input re-render the tab (400) with each field's error and the values
    entered, nothing stored. Other refusals (permission, not found, conflict) come back as a message."""
    try:
        call()
    except ValidationFailed as exc:
        patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
        return _render_tab(request, patient, form=form, errors=exc.fields, values=request.POST, status=400)
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, ok)
    return redirect("screening:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def import_bundle(request: SignedInRequest, patient_id: int) -> HttpResponse:
    upload = request.FILES.get("bundle")

    def go() -> Any:
        access_patient_by_id(request.user, patient_id, perm=Perm.SCREENING_RECORD, audit_action=None)
        if upload is None:
            raise ValidationFailed({"bundle": ["choose a FHIR R4 Bundle JSON file"]})
        if upload.size is not None and upload.size > settings.KETACLINIC_MAX_BODY_BYTES:
            raise ValidationFailed({"bundle": [f"is larger than {settings.KETACLINIC_MAX_BODY_BYTES} bytes"]})
        try:
            doc = loads_limited(
                upload.read(), max_bytes=settings.KETACLINIC_MAX_BODY_BYTES, max_depth=FHIR_MAX_DEPTH
            )
        except ValueError as exc:
            raise ValidationFailed(
                {"bundle": [str(exc).replace("not valid JSON", "not a JSON file")]}
            ) from None
        return actions.do_import_bundle(
            actor=request.user, patient_id=patient_id, bundle=doc, request=request
        )

    return _intake_post(request, patient_id, "import", go, "Bundle imported and screening re-run.")


@login_required
@require_POST
def add_condition(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _intake_post(
        request,
        patient_id,
        "condition",
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
def add_medication(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _intake_post(
        request,
        patient_id,
        "medication",
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
def add_allergy(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _intake_post(
        request,
        patient_id,
        "allergy",
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
def add_vitals(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _intake_post(
        request,
        patient_id,
        "vitals",
        lambda: actions.do_record_vitals(
            actor=request.user,
            patient_id=patient_id,
            systolic=p.get("systolic", ""),
            diastolic=p.get("diastolic", ""),
            weight_kg=p.get("weight_kg", ""),
            pregnancy=p.get("pregnancy", ""),
            request=request,
        ),
        "Vitals recorded; screening re-run.",
    )


@login_required
@require_POST
def withdraw_item(request: SignedInRequest, patient_id: int, item_id: int) -> HttpResponse:
    return _intake_post(
        request,
        patient_id,
        f"withdraw-{item_id}",
        lambda: actions.do_retract_intake_item(
            actor=request.user,
            patient_id=patient_id,
            item_id=item_id,
            reason=request.POST.get("reason", ""),
            request=request,
        ),
        "Intake item withdrawn; screening re-run.",
    )


@login_required
@require_POST
def rerun(request: SignedInRequest, patient_id: int) -> HttpResponse:
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
def review(request: SignedInRequest, patient_id: int, run_id: int) -> HttpResponse:
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
def cosign(request: SignedInRequest, patient_id: int, review_id: int) -> HttpResponse:
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
def consent(request: SignedInRequest, patient_id: int) -> HttpResponse:
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
