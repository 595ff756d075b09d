"""Thin views of the treatment app: chart tab, session run sheet, REMS forms dashboard and PDF."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import (
    access_device_by_id,
    access_rems_form_by_id,
    access_session_by_id,
    active_clinic,
)
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError, NotFoundError, ValidationFailed
from ketaclinic.web.lib.timezones import zone_or_default
from ketaclinic.web.patients.banner import patient_banner
from ketaclinic.web.patients.tabs import chart_banners
from ketaclinic.web.patients.views import chart_context, load_patient
from ketaclinic.web.treatment import actions, runsheet, selectors
from ketaclinic.web.treatment.models import DosingSession, RemsMonitoringForm, SideEffect
from ketaclinic.web.treatment.panels import run_sheet_panels

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW)
    ctx = chart_context(request, patient, "treatment")
    weight = ctx["latest_weight"]  # chart_context read it already: one query per request, not three
    ctx.update(
        {
            "courses": selectors.courses_for_patient(patient),
            "sessions": selectors.sessions_for_patient(patient)[:100],
            "signals": selectors.escalation_signals(patient, weight=weight),
            "protocols": selectors.protocols_for_clinic(patient.clinic),
            "indications": selectors.consent_indications(),
            "weight": weight,
            "can_prescribe": has_perm_in_clinic(request.user, patient.clinic_id, Perm.ORDER_SIGN),
            "can_run": has_perm_in_clinic(request.user, patient.clinic_id, Perm.SESSION_RUN),
        }
    )
    ctx["pk_fragments"] = _pk_fragments(patient, weight)
    return render(request, "treatment/chart_tab.html", ctx)


def _pk_fragments(patient: Patient, weight: Any) -> dict[int, dict[str, str]]:
    """Per active course: the decision app's predicted-concentration fragment URL and the order's regimen
    (default dose from the latest weight, route, infusion duration, and doses given in the last 24 h)."""
    from urllib.parse import urlencode

    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    try:
        url = reverse("decision:pk_curve", kwargs={"patient_id": patient.pk})
    except NoReverseMatch:
        return {}
    now = timezone.now()
    prior = [
        f"{d.route}:{d.dose_mg:g}:{int((now - d.time).total_seconds() // 60)}"
        + (f":{d.duration_min:g}" if d.duration_min else "")
        for d in selectors.dose_history(patient)
        if 0 <= (now - d.time).total_seconds() <= 24 * 3600
    ]
    out: dict[int, dict[str, str]] = {}
    for course in selectors.courses_for_patient(patient).filter(status="active"):
        protocol = selectors.course_protocol(course)
        params: list[tuple[str, str]] = [("drug", protocol.drug), ("route", protocol.routes[0])]
        params += [("prior", p) for p in prior]
        default = protocol.default_dose_mg(float(weight.weight_kg)) if weight is not None else None
        duration = protocol.infusion.default_duration_min.value if protocol.infusion is not None else None
        vals = {
            "amount": f"{default:g}" if default is not None else "",
            "duration": f"{duration:g}" if duration is not None else "",
        }
        out[course.pk] = {
            "url": url + "?" + urlencode(params),
            "default_mg": vals["amount"],
            "default_duration": vals["duration"],
        }
    return out


def _flash(request: SignedInRequest, exc: DomainError) -> None:
    """The refusal in words: its message, then each reason not already in it, under the field's name in words
    (the field's code stays out of the page)."""
    messages.error(request, exc.message)
    for field, reasons in exc.fields.items():
        label = field.split(".")[-1].replace("_", " ")
        for r in reasons:
            if r not in exc.message:
                messages.error(request, f"{label}: {r}")


@login_required
@require_POST
def course_start(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    try:
        actions.do_start_course(
            actor=request.user,
            patient_id=patient_id,
            protocol_id=p.get("protocol_id", ""),
            indication=p.get("indication", ""),
            rems_patient_enrolled=p.get("rems_enrolled") == "on",
            rems_patient_id=p.get("rems_patient_id", ""),
            request=request,
        )
        messages.success(request, "Course started.")
    except DomainError as exc:
        _flash(request, exc)
    return redirect("treatment:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def order_sign(request: SignedInRequest, patient_id: int, course_id: int) -> HttpResponse:
    p = request.POST
    try:
        order, s = actions.do_sign_and_schedule(
            actor=request.user,
            course_id=course_id,
            planned_for=p.get("planned_for") or None,
            dose_mg=p.get("dose_mg") or None,
            duration_min=p.get("duration_min") or None,
            override_reason=p.get("override_reason", ""),
            request=request,
        )
        messages.success(
            request,
            f"Order signed ({order.dose_mg} mg from {order.weight_kg} kg measured "
            f"{order.weight_measured_at:%Y-%m-%d}); session {s.pk} scheduled.",
        )
    except DomainError as exc:
        _flash(request, exc)
    return redirect("treatment:chart_tab", patient_id=patient_id)


def _session(request: SignedInRequest, session_id: int) -> DosingSession:
    s: DosingSession = access_session_by_id(request.user, session_id, request=request)
    return s


def _site_zone(s: DosingSession) -> Any:
    """The run sheet is read at the chair: its times are the session's site's, whichever clinic is active."""
    site = s.site or s.patient.home_site
    return timezone.override(zone_or_default(site.timezone)) if site is not None else nullcontext()


@login_required
def session_detail(request: SignedInRequest, session_id: int) -> HttpResponse:
    s = _session(request, session_id)
    decision = selectors.discharge_decision(s) if s.status in ("monitoring", "discharge_ready") else None
    protocol = selectors.course_protocol(s.course)
    ctx: dict[str, Any] = {
        "s": s,
        "patient": s.patient,
        "decision": decision,
        "alerts": s.alerts.all(),
        "side_effects": s.side_effects.all(),
        "admins": s.administrations.all(),
        "interventions": s.interventions.all(),
        "transitions": s.transitions.all(),
        "protocol": protocol,
        "se_codes": SideEffect.Code.choices,
        "severities": SideEffect.Severity.choices,
        "pregnancy_choices": DosingSession.PregnancyTest.choices,
        "rems_form": getattr(s, "rems_form", None),
        # The chart's banners (suicide risk, dose escalation, long-term safety...) reach the run sheet too.
        "banners": chart_banners(s.patient),
        "banner": patient_banner(
            s.patient,
            clinical=has_perm_in_clinic(request.user, s.clinic_id, Perm.CLINICAL_VIEW),
            session=s,
        ),
        "can_chart": s.status in ("checked_in", "pre_dose_checks", "dosing", "monitoring", "discharge_ready"),
    }
    ctx.update(_ledger_context(request, s))
    ctx.update(_sensor_context(request, s))
    ctx.update(runsheet.kept_form(request, s.pk))
    ctx["extra_panels"] = run_sheet_panels(request, s)
    with _site_zone(s):
        ctx.update(runsheet.flowsheet_context(s))
        ctx.update(runsheet.dose_form(s, protocol, ctx["held_lots"]))
        ctx["infusion"] = runsheet.infusion_state(s, protocol)
        return render(request, "treatment/session.html", ctx)


@login_required
def session_flowsheet(request: SignedInRequest, session_id: int) -> HttpResponse:
    """The run sheet's flowsheet (grid, chart, rows) alone: the page's script fetches it on a live event."""
    s = _session(request, session_id)
    with _site_zone(s):
        ctx = {"s": s, **runsheet.flowsheet_context(s)}
        return render(request, "treatment/_flowsheet.html", ctx)


def _sensor_context(request: SignedInRequest, s: DosingSession) -> dict[str, Any]:
    """The run sheet's sensor panel: the devices attached now and the site's free devices to attach."""
    from django.urls import reverse

    from ketaclinic.web.monitoring import selectors as monitoring

    active = s.status in selectors.ACTIVE_STATUSES
    can_run = has_perm_in_clinic(request.user, s.clinic_id, Perm.SESSION_RUN)
    url = None
    if s.site_id is not None and has_perm_in_clinic(request.user, s.clinic_id, Perm.DEVICE_MANAGE):
        url = reverse("monitoring:devices", kwargs={"site_id": s.site_id})
    return {
        "sensors_active": active and can_run,
        "can_detach_sensors": can_run,
        "attached_devices": monitoring.session_devices(s),
        "attachable_devices": monitoring.attachable_devices(s) if active and can_run else [],
        "monitoring_devices_url": url,
    }


def _session_device(
    r: SignedInRequest, session_id: int, device_id: Any, *, attached: bool
) -> tuple[DosingSession, Any]:
    """The session (the user runs sessions for its patient) and a device of its clinic (attached to this
    session when `attached`), else a field error."""
    from ketaclinic.web.monitoring.models import DeviceAttachment

    s = access_session_by_id(r.user, session_id, perm=Perm.SESSION_RUN, audit_action=None)
    try:
        pk = int(device_id)
    except (TypeError, ValueError):
        raise ValidationFailed({"device": ["choose a device"]}) from None
    try:
        device = access_device_by_id(r.user, pk, clinic=s.clinic_id, perm=Perm.SESSION_RUN, audit_action=None)
    except NotFoundError:
        raise ValidationFailed({"device": ["choose a device registered in this clinic"]}) from None
    if (
        attached
        and not DeviceAttachment.objects.filter(device=device, session=s, detached_at__isnull=True).exists()
    ):
        raise ValidationFailed({"device": [f"{device.label} is not attached to this session"]})
    return s, device


def _attach_device(r: SignedInRequest, sid: int, p: Any) -> None:
    from ketaclinic.web.monitoring.actions import do_attach_device

    s, device = _session_device(r, sid, p.get("device"), attached=False)
    do_attach_device(actor=r.user, device=device, session=s)


def _detach_device(r: SignedInRequest, sid: int, p: Any) -> None:
    from ketaclinic.web.monitoring.actions import do_detach_device

    _s, device = _session_device(r, sid, p.get("device"), attached=True)
    do_detach_device(actor=r.user, device=device, reason="detached from the run sheet")


def _ledger_context(request: SignedInRequest, s: DosingSession) -> dict[str, Any]:
    """The run sheet's controlled-substance panel: what can be withdrawn, what the session holds, whether it
    reconciles, and who may witness the waste."""
    from ketaclinic.web.accounts.models import User, effective_membership_q
    from ketaclinic.web.treatment import stock

    active = s.status in ("pre_dose_checks", "dosing", "monitoring", "discharge_ready")
    held = [(lot, q) for lot, q in stock.holdings(s) if q > 0]
    options = []
    problem = None
    if s.status in ("pre_dose_checks", "dosing") and not held:
        problem = stock.stock_setup_problem(s)
        options = [
            {
                "lot": r.lot,
                "location": r.location,
                "balance": stock.fmt(r.quantity),
                "unit": r.product.unit,
                "product": r.product,
                "default": stock.fmt(stock.default_withdraw_quantity(s, r.product)),
            }
            for r in stock.withdraw_options(s)
        ]
    witnesses = []
    if held and s.status in ("dosing", "monitoring", "discharge_ready"):
        witnesses = list(
            User.objects.filter(
                effective_membership_q("memberships__"),
                is_active=True,
                memberships__clinic_id=s.clinic_id,
                memberships__role__in=["prescriber", "nurse", "custodian"],
            )
            .exclude(pk=request.user.pk)
            .distinct()
            .order_by("display_name", "username")
        )
    rec = stock.reconciliation(s)
    return {
        "ledger_active": active or bool(rec),
        "stock_problem": problem,
        "withdraw_options": options,
        "held": [(lot, stock.fmt(q)) for lot, q in held],
        "held_lots": [(lot, stock.fmt(q)) for lot, q in held],
        "reconciliation": rec,
        "ledger_problems": stock.reconciliation_problems(s) if rec or s.first_dose_at else [],
        "witnesses": witnesses,
    }


#: A run-sheet step: (request, session id, the posted form); what the action returns is not used.
Step = Callable[[SignedInRequest, int, QueryDict], object]

_STEP: dict[str, Step] = {
    "check_in": lambda r, sid, p: actions.do_check_in(actor=r.user, session_id=sid, request=r),
    "pre_dose": lambda r, sid, p: actions.do_pass_pre_dose_checks(
        actor=r.user,
        session_id=sid,
        request=r,
        data={
            "fasting_confirmed": p.get("fasting_confirmed") == "on",
            "transport_confirmed": p.get("transport_confirmed") == "on",
            "escort_name": p.get("escort_name", ""),
            "pregnancy_test": p.get("pregnancy_test", ""),
            "rems_enrolment_verified": p.get("rems_enrolment_verified") == "on",
            "bp_attestation_reason": p.get("bp_attestation_reason", ""),
        },
    ),
    "withdraw": lambda r, sid, p: actions.do_withdraw_stock(
        actor=r.user,
        session_id=sid,
        lot_id=(p.get("stock", "") + ":").split(":")[0],
        location_id=(p.get("stock", "") + "::").split(":")[1],
        quantity=p.get("quantity") or None,
        request=r,
    ),
    "waste": lambda r, sid, p: actions.do_waste_remainder(
        actor=r.user,
        session_id=sid,
        witness_id=p.get("witness"),
        witness_password=p.get("witness_password", ""),
        witness_code=p.get("witness_code", ""),
        reason=p.get("reason", ""),
        request=r,
    ),
    "return_stock": lambda r, sid, p: actions.do_return_unused_stock(actor=r.user, session_id=sid, request=r),
    "dose": lambda r, sid, p: actions.do_record_administration(
        actor=r.user,
        session_id=sid,
        dose_mg=p.get("dose_mg"),
        lot_id=p.get("lot") or None,
        administered_at=p.get("administered_at") or None,
        duration_min=p.get("duration_min") or None,
        override_reason=p.get("override_reason", ""),
        request=r,
    ),
    "end_dosing": lambda r, sid, p: actions.do_end_dosing(
        actor=r.user,
        session_id=sid,
        reason=p.get("reason", ""),
        ended_at=p.get("ended_at") or None,
        request=r,
    ),
    "pause": lambda r, sid, p: actions.do_set_infusion_paused(
        actor=r.user, session_id=sid, paused=True, reason=p.get("reason", ""), request=r
    ),
    "resume": lambda r, sid, p: actions.do_set_infusion_paused(
        actor=r.user, session_id=sid, paused=False, reason=p.get("reason", ""), request=r
    ),
    "vitals": lambda r, sid, p: actions.do_record_vitals(
        actor=r.user,
        session_id=sid,
        taken_at=p.get("taken_at") or None,
        request=r,
        values={k: p.get(k) for k in ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate")},
    ),
    "scale": lambda r, sid, p: actions.do_record_scale(
        actor=r.user, session_id=sid, kind=p.get("kind", ""), score=p.get("score"), request=r
    ),
    "side_effect": lambda r, sid, p: actions.do_record_side_effect(
        actor=r.user,
        session_id=sid,
        code=p.get("code", ""),
        severity=p.get("severity", ""),
        serious=p.get("serious") == "on",
        notes=p.get("notes", ""),
        request=r,
    ),
    "resolve": lambda r, sid, p: actions.do_resolve_side_effect(
        actor=r.user, side_effect_id=int(p.get("id", 0)), request=r
    ),
    "intervention": lambda r, sid, p: actions.do_record_intervention(
        actor=r.user, session_id=sid, description=p.get("description", ""), request=r
    ),
    "ack": lambda r, sid, p: actions.do_acknowledge_session_alert(
        actor=r.user, alert_id=int(p.get("id", 0)), request=r
    ),
    "ready": lambda r, sid, p: actions.do_mark_discharge_ready(
        actor=r.user,
        session_id=sid,
        escort_present=p.get("escort_present") == "on",
        rems_ready_minutes=p.get("rems_ready_minutes") or None,
        request=r,
    ),
    "discharge": lambda r, sid, p: actions.do_discharge(actor=r.user, session_id=sid, request=r),
    "attach_device": _attach_device,
    "detach_device": _detach_device,
    "cancel": lambda r, sid, p: actions.do_cancel_session(
        actor=r.user, session_id=sid, reason=p.get("reason", ""), request=r
    ),
}


@login_required
@require_POST
def session_step(request: SignedInRequest, session_id: int, step: str) -> HttpResponse:
    fn = _STEP.get(step)
    if fn is None:
        raise Http404
    # Times typed on the run sheet are the wall clock it shows: the session's site's, whichever clinic is
    # active. The step itself checks access and reports a refusal; this read only picks the zone.
    try:
        s = access_session_by_id(request.user, session_id, audit_action=None)
    except DomainError:
        s = None
    site = None if s is None else (s.site or s.patient.home_site)
    zone = site.timezone if site is not None and site.timezone else None
    try:
        with timezone.override(zone_or_default(zone)) if zone else nullcontext():
            fn(request, session_id, request.POST)
        messages.success(request, "Saved.")
    except DomainError as exc:
        _flash(request, exc)
        runsheet.keep_form(request, session_id, step, request.POST)
    except ValueError:
        messages.error(request, "invalid input")
        runsheet.keep_form(request, session_id, step, request.POST)
    return redirect("treatment:session", session_id=session_id)


@login_required
def rems_dashboard(request: SignedInRequest) -> HttpResponse:
    clinic = active_clinic(
        request,
        Perm.CLINICAL_VIEW,
        message="your role in this clinic does not allow reading REMS monitoring forms",
    )
    forms = list(selectors.rems_forms_due(clinic))
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.REMS_DASHBOARD_VIEW,
            clinic=clinic,
            request=request,
            detail={"forms": [f.pk for f in forms]},
        )
    return render(
        request, "treatment/rems_dashboard.html", {"forms": [(f, selectors.rems_overdue(f)) for f in forms]}
    )


@login_required
def rems_pdf(request: SignedInRequest, form_id: int) -> HttpResponse:
    from ketaclinic.web.treatment.rems import render_rems_pdf

    form: RemsMonitoringForm = access_rems_form_by_id(
        request.user, form_id, request=request, audit_action=AuditAction.REMS_FORM_EXPORT
    )
    resp = HttpResponse(render_rems_pdf(form), content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="rems-form-session-{form.session_id}.pdf"'
    return resp


@login_required
@require_POST
def rems_submit(request: SignedInRequest, form_id: int) -> HttpResponse:
    try:
        actions.do_submit_rems_form(
            actor=request.user, form_id=form_id, reference=request.POST.get("reference", ""), request=request
        )
        messages.success(request, "Marked as submitted.")
    except DomainError as exc:
        _flash(request, exc)
    return redirect("treatment:rems_dashboard")


@login_required
def board(request: SignedInRequest) -> HttpResponse:
    """Today's dosing sessions at the active clinic, with links to each run sheet and the REMS dashboard."""
    clinic = active_clinic(request, Perm.CLINICAL_VIEW, message="you cannot view this clinic's sessions")
    sessions = selectors.sessions_board(clinic)
    forms = list(selectors.rems_forms_due(clinic))
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.TREATMENT_BOARD_VIEW,
            clinic=clinic,
            request=request,
            detail={"sessions": [x.pk for x in sessions]},
        )
    return render(
        request,
        "treatment/board.html",
        {
            "sessions": sessions,
            "rems_due": len(forms),
            "rems_overdue": sum(1 for f in forms if selectors.rems_overdue(f)),
            "clinic": clinic,
        },
    )


def _protocol_template(base_id: str) -> str:
    """The YAML of a packaged protocol, renamed, as a starting point for a clinic protocol."""
    from ketaclinic.core.protocols import get_protocol

    try:
        raw = dict(get_protocol(base_id).raw)
    except KeyError:
        return ""
    raw["id"] = f"clinic-{base_id}"
    raw["name"] = f"{raw.get('name', base_id)} (clinic version)"
    raw["clinic_defined"] = True
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


@login_required
def protocol_admin(request: SignedInRequest) -> HttpResponse:
    """Clinic admins read every protocol in words and add a clinic protocol from a full definition (YAML)."""
    from ketaclinic.core.protocols import load_protocols, parse_protocol
    from ketaclinic.web.treatment.protocol_summary import protocol_rows

    clinic = active_clinic(request, Perm.CLINIC_ADMIN, message="only a clinic admin can manage protocols")
    packaged = load_protocols()
    clinic_rows = selectors.clinic_protocols(clinic)
    download = request.GET.get("download", "")
    if download:
        return _protocol_download(download, packaged, clinic_rows)
    errors: dict[str, list[str]] = {}
    base = request.GET.get("base", "")
    if base and base not in {p.id for p in packaged}:
        raise ValidationFailed({"base": [f"unknown protocol {base!r}"]})
    text = _protocol_template(base) if base else ""
    status = 200
    if request.method == "POST":
        text = request.POST.get("definition", "")
        try:
            try:
                definition = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ValidationFailed({"definition": [f"not valid YAML: {exc}"]}) from None
            if not isinstance(definition, dict):
                raise ValidationFailed({"definition": ["must be a mapping of protocol fields"]})
            cp = actions.do_add_clinic_protocol(
                actor=request.user, clinic=clinic, definition=definition, request=request
            )
            messages.success(request, f"Protocol {cp.definition.get('name') or cp.protocol_id} added.")
            return redirect("treatment:protocols")
        except ValidationFailed as exc:
            errors = exc.fields
            status = 400
    summaries = [
        {
            "id": cp.protocol_id,
            "name": cp.definition.get("name", cp.protocol_id),
            "clinic": cp,
            "rows": protocol_rows(parse_protocol(cp.definition)),
        }
        for cp in clinic_rows
    ] + [{"id": p.id, "name": p.name, "clinic": None, "rows": protocol_rows(p)} for p in packaged]
    return render(
        request,
        "treatment/protocols.html",
        {
            "packaged": packaged,
            "summaries": summaries,
            "definition": text,
            "base": base,
            "errors": errors,
            "editing": bool(base) or request.method == "POST",
        },
        status=status,
    )


def _protocol_download(protocol_id: str, packaged: Any, clinic_rows: list[Any]) -> HttpResponse:
    """One protocol's definition as a YAML file (the packaged library or this clinic's own)."""
    raw = next((dict(p.raw) for p in packaged if p.id == protocol_id), None)
    if raw is None:
        raw = next((cp.definition for cp in clinic_rows if cp.protocol_id == protocol_id), None)
    if raw is None:
        raise ValidationFailed({"download": [f"unknown protocol {protocol_id!r}"]})
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    response = HttpResponse(body, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{protocol_id}.yaml"'
    return response
