"""The clinic outcomes page: filters, cohort table with denominators, plots and safety (aggregates only)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_clinic_by_id, access_patient_by_id, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.outcomes.cells import shown
from ketaclinic.web.outcomes.selectors import OutcomeFilters

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic

ROUTE_LABELS = {
    "iv": "Intravenous",
    "im": "Intramuscular",
    "intranasal": "Intranasal",
    "oral": "Oral",
    "sublingual": "Sublingual",
}


def filter_choices(clinic: Clinic) -> dict[str, list[tuple[str, str]]]:
    """The values each filter accepts, with the words shown for them."""
    from ketaclinic.core.instruments import load_instrument
    from ketaclinic.core.outcomes import cohort_instrument_ids
    from ketaclinic.core.protocols import load_protocols
    from ketaclinic.web.treatment.models import TreatmentCourse
    from ketaclinic.web.treatment.selectors import consent_indications

    protocols = {p.id: p.name for p in load_protocols()}
    for pid in TreatmentCourse.objects.filter(clinic=clinic).values_list("protocol_id", flat=True).distinct():
        protocols.setdefault(pid, pid)
    return {
        "instrument": [(i, load_instrument(i).title) for i in cohort_instrument_ids()],
        "indication": sorted(consent_indications().items(), key=lambda kv: kv[1]),
        "protocol": sorted(protocols.items(), key=lambda kv: kv[1]),
        "route": list(ROUTE_LABELS.items()),
        "site": [(str(s.pk), s.name) for s in clinic.sites.order_by("name")],
    }


def parse_filters(
    get: Any, choices: dict[str, list[tuple[str, str]]]
) -> tuple[OutcomeFilters, dict[str, list[str]]]:
    """Filters from the query string; every bad value is reported against its field."""
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for field in ("instrument", "indication", "protocol", "route", "site"):
        raw = str(get.get(field, "")).strip()
        allowed = {k for k, _ in choices[field]}
        if raw and raw not in allowed:
            errors[field] = ["is not one of the choices offered"]
            raw = ""
        values[field] = raw
    dates: dict[str, dt.date | None] = {}
    for field in ("since", "until"):
        raw = str(get.get(field, "")).strip()
        dates[field] = None
        if raw:
            try:
                dates[field] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[field] = ["must be a date in YYYY-MM-DD format"]
    since, until = dates["since"], dates["until"]
    if since and until and since > until:
        errors["until"] = ["must be on or after the start of the period"]
    return (
        OutcomeFilters(
            instrument=values["instrument"] or "phq9",
            indication=values["indication"],
            protocol=values["protocol"],
            route=values["route"],
            site_id=int(values["site"]) if values["site"] else None,
            since=since,
            until=until,
        ),
        errors,
    )


def build_report(clinic: Clinic, filters: OutcomeFilters) -> dict[str, Any]:
    """Every figure of the page for the filtered cohort (aggregates only; no identifiers)."""
    from ketaclinic.core.instruments import load_instrument
    from ketaclinic.core.outcomes import analyse_cohort, cohort_rules
    from ketaclinic.core.outcomes.cohort import split_cohort
    from ketaclinic.core.outcomes.fast import NotExact, fast_outcomes
    from ketaclinic.core.outcomes.references import reference_lines
    from ketaclinic.core.outcomes.trajectories import durability, waterfall, weekly_means
    from ketaclinic.web.outcomes import charts
    from ketaclinic.web.outcomes.selectors import clinic_cohort, cohort_columns, cohort_safety

    inst = load_instrument(filters.instrument)
    rules = cohort_rules(filters.instrument)
    try:
        ids, fds, cols = cohort_columns(clinic=clinic, filters=filters)
    except NotExact:
        # A total finer than hundredths (not produced by any scale today): the engine, score by score.
        cohort = clinic_cohort(clinic=clinic, filters=filters)
        splits = split_cohort(cohort, rules)
        result = analyse_cohort(cohort, rules, splits=splits)
        means = weekly_means(cohort, rules, splits=splits)
        induction_responders, durable = durability(cohort, rules, splits=splits)
    else:
        fast = fast_outcomes(ids, fds, cols, rules)
        result, means = fast.result, fast.weekly_means
        induction_responders, durable = fast.induction_responders, fast.durability
    bars = waterfall(result.patients)
    references = reference_lines().for_route(filters.route)
    sessions, safety = cohort_safety(clinic=clinic, filters=filters)
    follow = [p.follow_up for p in result.patients if p.follow_up is not None]
    follow_days = max((f.total_seconds() / 86400 for f in follow), default=0.0)
    rows = [
        ("Response at any score", result.response),
        ("Response at the latest score", result.response_last),
    ]
    if result.remission is not None and result.remission_last is not None:
        rows += [
            ("Remission at any score", result.remission),
            ("Remission at the latest score", result.remission_last),
        ]
    return {
        "instrument": inst,
        "rules": rules,
        "result": result,
        "rate_rows": rows,
        "lost_to_follow_up": result.not_evaluable["no_follow_up"],
        "means": means,
        "durability": durable,
        "induction_responders": induction_responders,
        "sessions": sessions,
        "safety": safety,
        "charts": {
            "weekly": charts.weekly_means_svg(
                means, rules, lo=inst.total_min, hi=inst.total_max, instrument=inst.short_title
            ),
            "waterfall": charts.waterfall_svg(bars, rules),
            "km": charts.km_svg(result.time_to_response, follow_up_days=follow_days),
            "durability": charts.durability_svg(durable, induction_responders),
            "reference": charts.reference_svg(
                [
                    ("Response at any score", result.response.rate, result.response.ci95),
                    ("At the latest score", result.response_last.rate, result.response_last.ci95),
                ],
                references,
            ),
        },
        "references": references,
    }


@login_required
@require_GET
def outcomes_page(request: SignedInRequest) -> HttpResponse:
    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.OUTCOMES_VIEW)
    choices = filter_choices(clinic)
    filters, errors = parse_filters(request.GET, choices)
    ctx: dict[str, Any] = {"choices": choices, "filters": filters, "errors": errors, "form": request.GET}
    if errors:
        return render(request, "outcomes/page.html", ctx, status=400)
    report = build_report(clinic, filters)
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.OUTCOMES_VIEW,
            clinic=clinic,
            request=request,
            detail={
                **filters.as_detail(),
                "enrolled": report["result"].n,
                "evaluable": report["result"].evaluable,
            },
        )
    ctx.update(report)
    # Researchers (aggregate access only) see small counts suppressed; staff who may open charts see them all.
    aggregate_only = not has_perm_in_clinic(request.user, clinic, Perm.PATIENT_VIEW)
    ctx.update(shown(report, clinic.small_cell_threshold if aggregate_only else 0))
    return render(request, "outcomes/page.html", ctx)


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    resp = HttpResponse(content, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="{filename}"'
    return resp


@login_required
@require_GET
def summary_pdf(request: SignedInRequest) -> HttpResponse:
    """The page's figures for the same filters as a PDF (aggregates only)."""
    from ketaclinic.web.outcomes.summary import clinic_summary_pdf

    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.OUTCOMES_VIEW)
    choices = filter_choices(clinic)
    filters, errors = parse_filters(request.GET, choices)
    if errors:
        raise ValidationFailed(errors)
    report = build_report(clinic, filters)
    content = clinic_summary_pdf(clinic=clinic, filters=filters, report=report, choices=choices)
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.OUTCOMES_SUMMARY_PDF,
            clinic=clinic,
            request=request,
            detail={
                **filters.as_detail(),
                "enrolled": report["result"].n,
                "evaluable": report["result"].evaluable,
            },
        )
    return _pdf_response(content, f"outcomes-{clinic.slug}-{timezone.localdate():%Y-%m-%d}.pdf")


@login_required
@require_GET
def progress_report(request: SignedInRequest, patient_id: int) -> HttpResponse:
    """One patient's progress report (PDF) for referrers and the patient; the read is audited."""
    from ketaclinic.web.outcomes.progress import progress_data, progress_pdf

    try:
        patient = access_patient_by_id(
            request.user,
            patient_id,
            perm=Perm.CLINICAL_VIEW,
            request=request,
            audit_action=AuditAction.OUTCOMES_PROGRESS_REPORT,
        )
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    content = progress_pdf(progress_data(patient))
    return _pdf_response(content, f"progress-report-{patient.mrn}-{timezone.localdate():%Y-%m-%d}.pdf")
