"""Thin views: the chart's Safety tab (exposure, schedule, alerts and decisions, lab results), the clinic's
safety watch list, the clinic's schedule settings, and the FHIR export of surveillance results."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.safetyplan import SAFETY_PLAN_SECTIONS
from ketaclinic.core.surveillance import ALERT_CODES, ITEM_CODES, default_settings, lab_tests
from ketaclinic.web.access import access_clinic_by_id, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.assessments.models import Assessment
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError
from ketaclinic.web.patients.views import chart_context, load_patient
from ketaclinic.web.surveillance import actions, selectors
from ketaclinic.web.surveillance.models import ClinicSurveillanceSettings, SurveillanceDecision

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

FIELD_LABELS = {
    "loinc": "Test",
    "value": "Result",
    "unit": "Unit",
    "taken_at": "Taken at",
    "reference_low": "Reference low",
    "reference_high": "Reference high",
    "bundle": "FHIR bundle",
    "alert_code": "Alert",
    "decision": "Decision",
    "reason": "Reason",
    "protocol_id": "Protocol",
    "outcome": "Outcome",
    "note": "Note",
}
ALERT_DECISIONS = {
    "bladder_symptoms": ("continue", "reduce", "pause", "refer_urology"),
    "haematuria": ("continue", "reduce", "pause", "refer_urology"),
    "liver_enzymes_raised": ("continue", "reduce", "pause"),
    "dependence_signal": ("continue", "reduce", "pause", "refer_addiction"),
    "escalation_tolerance": ("continue", "reduce", "pause", "refer_addiction", "refer_neuropsychology"),
}


def _flash(request: SignedInRequest, exc: DomainError) -> None:
    if not exc.fields:
        messages.error(request, exc.message)
    for field, reasons in exc.fields.items():
        for r in reasons:
            messages.error(request, f"{FIELD_LABELS.get(field, field)}: {r}")


def _aware(raw: str) -> dt.datetime | str:
    """A datetime-local value in the site's time zone; the raw text when it does not parse (the action says so)."""
    try:
        naive = dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return naive if naive.tzinfo else timezone.make_aware(naive)


def _decision_choices(code: str) -> list[tuple[str, str]]:
    allowed = ALERT_DECISIONS.get(code, tuple(SurveillanceDecision.Decision.values))
    return [(v, str(label)) for v, label in SurveillanceDecision.Decision.choices if v in allowed]


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return chart_tab_response(request, load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW))


def chart_tab_response(
    request: SignedInRequest, patient: Patient, *, extra: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The Safety tab (with `extra` context, e.g. a safety-plan form's errors and values, and its status)."""
    from ketaclinic.web.surveillance import safetyplan

    ctx = chart_context(request, patient, "safety")
    ev = selectors.evaluate_patient(patient)
    open_codes = {(f.code, f.evidence) for f in ev.open_alerts}
    alerts = [
        {
            "finding": f,
            "label": selectors.ALERT_LABELS.get(f.code, f.code),
            "open": (f.code, f.evidence) in open_codes,
            "choices": _decision_choices(f.code),
        }
        for f in ev.result.alerts
    ]
    labs = Paginator(selectors.labs_for_patient(patient), 25).get_page(request.GET.get("labs_page"))
    decisions = Paginator(selectors.decisions_for_patient(patient), 25).get_page(
        request.GET.get("decisions_page")
    )
    sessions = ev.result.sessions
    weight = patient.latest_weight()
    ctx.update(
        {
            "ev": ev,
            "items": [
                {"s": s, "status_label": selectors.STATUS_LABELS.get(s.status, s.status)}
                for s in ev.result.items
            ],
            "alerts": alerts,
            "labs": labs,
            "lab_rows": [{"lab": lab, "name": selectors.lab_name(lab.loinc)} for lab in labs],
            "decisions": decisions,
            "decision_labels": dict(SurveillanceDecision.Decision.choices),
            "alert_labels": selectors.ALERT_LABELS,
            "exposure_rows": _exposure_rows(sessions, float(weight.weight_kg) if weight else None),
            "lab_tests": lab_tests(),
            "can_record": has_perm_in_clinic(request.user, patient.clinic_id, Perm.ASSESSMENT_RECORD),
            "can_decide": has_perm_in_clinic(request.user, patient.clinic_id, Perm.ALERT_ACKNOWLEDGE),
            "now_local": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "on_treatment_days": selectors.settings_for(patient.clinic_id, ev.protocol_id).on_treatment_days,
            "active_course": patient.treatment_courses.filter(status="active").first(),
            "can_end_course": has_perm_in_clinic(request.user, patient.clinic_id, Perm.COURSE_MANAGE),
            "followups": _followup_rows(request, patient),
            "trends": _trends(patient, [s.day for s in sessions]),
            "safety_plans": [
                {"plan": sp, "sections": safetyplan.sections_of(sp)}
                for sp in safetyplan.safety_plans_for_patient(patient)[:10]
            ],
            "plan_sections": SAFETY_PLAN_SECTIONS,
            "can_complete_plan": safetyplan.may_complete(request.user, patient.clinic_id),
            "plan_errors": {},
            "plan_values": {},
        }
    )
    ctx.update(extra or {})
    return render(request, "surveillance/chart_tab.html", ctx, status=status)


def _trends(patient: Patient, session_days: list[dt.date]) -> list[dict[str, Any]]:
    """BPIC-SS, SDS and cognitive-screen totals over time, dose days marked (the assessments app's chart)."""
    from ketaclinic.core.instruments import load_instrument
    from ketaclinic.web.assessments.trends import trend_svg

    rows = (
        Assessment.objects.filter(
            patient=patient,
            instrument_id__in=selectors.SURVEILLANCE_INSTRUMENTS,
            complete=True,
            total__isnull=False,
        )
        .order_by("assessed_at", "pk")
        .values_list("instrument_id", "assessed_at", "total")
    )
    series: dict[str, list[tuple[dt.datetime, float]]] = {}
    for iid, at, total in rows:
        if total is not None:  # excluded by the query; the column itself is nullable
            series.setdefault(iid, []).append((at, float(total)))
    doses = [dt.datetime.combine(d, dt.time(12), tzinfo=dt.UTC) for d in session_days]
    out = []
    for iid in selectors.SURVEILLANCE_INSTRUMENTS:
        if series.get(iid):
            defn = load_instrument(iid)
            out.append({"id": iid, "title": defn.short_title, "svg": trend_svg(defn, series[iid], doses)})
    return out


def _followup_rows(request: SignedInRequest, patient: Patient) -> list[dict[str, Any]]:
    """Each follow-up with its link's state; the personal URL for staff to send while it can be answered."""
    from ketaclinic.web.assessments.actions import link_url

    now = timezone.now()
    can_send = has_perm_in_clinic(request.user, patient.clinic_id, Perm.ASSESSMENT_RECORD)
    open_tasks = {fu.pk for fu in selectors.open_followup_tasks(patient=patient)}
    rows = []
    for fu in selectors.followups_for_patient(patient)[:50]:
        status = fu.link.status_at(now)
        rows.append(
            {
                "fu": fu,
                "status": LINK_STATUS.get(status, status),
                "url": request.build_absolute_uri(link_url(fu.link))
                if can_send and status in ("open", "scheduled")
                else "",
                "task_open": fu.pk in open_tasks,
            }
        )
    return rows


LINK_STATUS = {
    "scheduled": "opens later",
    "open": "open",
    "answered": "answered",
    "expired": "unanswered",
    "revoked": "withdrawn",
}


def _exposure_rows(sessions: Any, weight: float | None) -> list[dict[str, Any]]:
    """Cumulative exposure by month: sessions, mg, mg/kg (with the current weight)."""
    rows: dict[str, dict[str, Any]] = {}
    total = 0.0
    for count, s in enumerate(sessions, start=1):
        key = s.day.strftime("%Y-%m")
        total += s.total_mg
        row = rows.setdefault(key, {"month": key, "sessions": 0, "mg": 0.0})
        row["sessions"] += 1
        row["mg"] += s.total_mg
        row["cumulative_sessions"] = count
        row["cumulative_mg"] = total
        row["cumulative_mg_per_kg"] = round(total / weight, 2) if weight else None
    return list(rows.values())


@login_required
@require_POST
def record_lab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    try:
        lab = actions.do_record_lab_result(
            actor=request.user,
            patient_id=patient_id,
            loinc=p.get("loinc", ""),
            value=p.get("value", ""),
            unit=p.get("unit", ""),
            reference_low=p.get("reference_low") or None,
            reference_high=p.get("reference_high") or None,
            taken_at=_aware(p.get("taken_at", "")) if p.get("taken_at") else timezone.now(),
            request=request,
        )
        messages.success(request, f"{selectors.lab_name(lab.loinc)} result saved.")
    except DomainError as exc:
        _flash(request, exc)
    return redirect("surveillance:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def import_labs(request: SignedInRequest, patient_id: int) -> HttpResponse:
    upload = request.FILES.get("bundle")
    raw = upload.read() if upload is not None else request.POST.get("bundle_text", "").encode()
    try:
        bundle = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        messages.error(request, f"FHIR bundle: not valid JSON ({exc.__class__.__name__}).")
        return redirect("surveillance:chart_tab", patient_id=patient_id)
    try:
        labs = actions.do_import_lab_bundle(
            actor=request.user, patient_id=patient_id, bundle=bundle, request=request
        )
        messages.success(request, f"Imported {len(labs)} laboratory result{'s' if len(labs) != 1 else ''}.")
    except DomainError as exc:
        _flash(request, exc)
    return redirect("surveillance:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def decide(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    try:
        actions.do_record_surveillance_decision(
            actor=request.user,
            patient_id=patient_id,
            alert_code=p.get("alert_code", ""),
            decision=p.get("decision", ""),
            reason=p.get("reason", ""),
            request=request,
        )
        messages.success(request, "Decision recorded.")
    except DomainError as exc:
        _flash(request, exc)
    return redirect("surveillance:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def end_course(request: SignedInRequest, patient_id: int) -> HttpResponse:
    from ketaclinic.web.treatment.courses import do_end_course

    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
    course = patient.treatment_courses.filter(status="active").first()
    if course is None:
        messages.error(request, "There is no active course to end.")
        return redirect("surveillance:chart_tab", patient_id=patient_id)
    try:
        do_end_course(
            actor=request.user,
            course_id=course.pk,
            outcome=request.POST.get("outcome", ""),
            reason=request.POST.get("reason", ""),
            request=request,
        )
        messages.success(request, "Course ended; the withdrawal and craving follow-ups are scheduled.")
    except DomainError as exc:
        _flash(request, exc)
    return redirect("surveillance:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def close_task(request: SignedInRequest, followup_id: int) -> HttpResponse:
    try:
        fu = actions.do_close_followup_task(
            actor=request.user, followup_id=followup_id, note=request.POST.get("note", ""), request=request
        )
        messages.success(request, "Follow-up task closed.")
        if request.POST.get("back") == "chart":
            return redirect("surveillance:chart_tab", patient_id=fu.patient_id)
    except DomainError as exc:
        _flash(request, exc)
    return redirect("surveillance:clinic")


@login_required
def fhir_export(request: SignedInRequest, patient_id: int) -> HttpResponse:
    """Surveillance results as a FHIR collection Bundle: lab Observations, the questionnaire responses and the
    safety plans (CarePlan)."""
    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
    with transaction.atomic():
        record_audit(
            actor=request.user, action=AuditAction.SURVEILLANCE_EXPORT_FHIR, obj=patient, request=request
        )
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"urn:ketaclinic:lab:{lab.pk}", "resource": lab.fhir_observation}
        for lab in selectors.labs_for_patient(patient).order_by("taken_at", "pk")
    ]
    for a in Assessment.objects.filter(
        patient=patient, instrument_id__in=selectors.SURVEILLANCE_INSTRUMENTS
    ).order_by("assessed_at", "pk"):
        entries.append({"fullUrl": f"urn:ketaclinic:assessment:{a.pk}", "resource": a.fhir_response})
        if a.fhir_observation:
            entries.append(
                {"fullUrl": f"urn:ketaclinic:assessment-score:{a.pk}", "resource": a.fhir_observation}
            )
    from ketaclinic.web.surveillance.safetyplan import safety_plan_fhir, safety_plans_for_patient

    for sp in safety_plans_for_patient(patient).order_by("opened_at", "pk"):
        entries.append({"fullUrl": f"urn:ketaclinic:safety-plan:{sp.pk}", "resource": safety_plan_fhir(sp)})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    response = JsonResponse(bundle, json_dumps_params={"indent": 2})
    response["Content-Type"] = "application/fhir+json"
    response["Content-Disposition"] = f'attachment; filename="patient-{patient.pk}-safety.json"'
    return response


@login_required
def clinic_page(request: SignedInRequest) -> HttpResponse:
    """Every patient of the working clinic with an open safety alert or an overdue screen."""
    clinic = clinic_for_request(request)
    if clinic is None:
        return render(request, "patients/no_clinic.html", status=403)
    # The watchlist shows clinical findings: clinical reads, not the demographics permission.
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.CLINICAL_VIEW)
    rows = selectors.clinic_watchlist(clinic)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    tasks = Paginator(selectors.open_followup_tasks(clinic=clinic), 25).get_page(
        request.GET.get("tasks_page")
    )
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.SURVEILLANCE_WATCHLIST_VIEW,
            clinic=clinic,
            request=request,
            detail={"patients": [p.pk for p, _ in page], "tasks": [fu.patient_id for fu in tasks]},
        )
    return render(
        request,
        "surveillance/clinic.html",
        {
            "clinic": clinic,
            "page": page,
            "rows": [
                {
                    "patient": p,
                    "alerts": [selectors.ALERT_LABELS.get(f.code, f.code) for f in ev.open_alerts],
                    "overdue": [
                        next((s.label for s in ev.result.items if s.code == f.subject), f.subject)
                        for f in ev.overdue
                    ],
                }
                for p, ev in page
            ],
            "can_admin": has_perm_in_clinic(request.user, clinic, Perm.CLINIC_ADMIN),
            "tasks": tasks,
            "can_close_tasks": has_perm_in_clinic(request.user, clinic, Perm.ASSESSMENT_RECORD),
        },
    )


# ------------------------------------------------------------------ clinic settings

_ALERT_FIELDS = {
    "bladder_symptoms": ("total_at_least", "BPIC-SS total at or above"),
    "dependence_signal": ("total_at_least", "SDS total at or above"),
    "liver_enzymes_raised": ("times_upper_limit", "times the reference high (above)"),
    "escalation_tolerance": ("ratio_at_least", "times the first sessions' mean mg/kg (at or above)"),
    "early_request": ("min_interval_hours", "hours between sessions when the protocol sets none (below)"),
}


def _number(raw: str) -> int | float | str:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _overrides_from_post(p: Any) -> dict[str, Any]:
    defaults = default_settings()
    out: dict[str, Any] = {}
    for key, default in (
        ("on_treatment_days", defaults.on_treatment_days),
        ("due_window_days", defaults.due_window_days),
    ):
        raw = p.get(key, "").strip()
        if raw and _number(raw) != default:
            out[key] = _number(raw)
    items: dict[str, Any] = {}
    for code in ITEM_CODES:
        raw = p.get(f"interval_{code}", "").strip()
        if raw and _number(raw) != defaults.item(code).interval_days:
            items[code] = {"interval_days": _number(raw)}
    raw = p.get("liver_first_session", "").strip()
    if raw and _number(raw) != defaults.item("liver_enzymes").first_due_session:
        items.setdefault("liver_enzymes", {})["first_due_session"] = _number(raw)
    if items:
        out["items"] = items
    alerts: dict[str, Any] = {}
    for code, (key, _label) in _ALERT_FIELDS.items():
        raw = p.get(f"alert_{code}", "").strip()
        if raw and _number(raw) != getattr(defaults.alert(code), key):
            alerts[code] = {key: _number(raw)}
    if alerts:
        out["alerts"] = alerts
    return out


@login_required
def settings_page(request: SignedInRequest) -> HttpResponse:
    """The clinic's surveillance schedule: the shipped defaults and the clinic's overrides (clinic admins)."""
    clinic = clinic_for_request(request)
    if clinic is None:
        return render(request, "patients/no_clinic.html", status=403)
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.CLINIC_ADMIN)
    protocol = request.POST.get("protocol_id", request.GET.get("protocol", "")).strip()
    if request.method == "POST":
        try:
            actions.do_set_surveillance_settings(
                actor=request.user,
                clinic_id=clinic.pk,
                protocol_id=protocol,
                overrides=_overrides_from_post(request.POST),
                request=request,
            )
            messages.success(request, "Surveillance schedule saved.")
            return redirect(f"{request.path}?protocol={protocol}")
        except DomainError as exc:
            _flash(request, exc)
    current = selectors.settings_for(clinic.pk, protocol)
    defaults = default_settings()
    rows = ClinicSurveillanceSettings.objects.filter(clinic=clinic).select_related("updated_by")
    return render(
        request,
        "surveillance/settings.html",
        {
            "clinic": clinic,
            "protocol": protocol,
            "current": current,
            "defaults": defaults,
            "item_rows": [{"item": i, "default": defaults.item(i.code).interval_days} for i in current.items],
            "alert_rows": [
                {
                    "code": code,
                    "label": f"{selectors.ALERT_LABELS[code]}: {label}",
                    "value": getattr(current.alert(code), key),
                    "default": getattr(defaults.alert(code), key),
                }
                for code, (key, label) in _ALERT_FIELDS.items()
            ],
            "saved": rows,
            "liver_default": defaults.item("liver_enzymes").first_due_session,
            "alert_codes": ALERT_CODES,
        },
    )
