"""Thin views: the chart's Pain tab, its forms, the run-sheet opioid panel and the clinic's opioid-sparing page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.instruments import load_instrument
from ketaclinic.core.pain.mme import format_number, load_mme_table
from ketaclinic.web.access import active_clinic, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError, ValidationFailed
from ketaclinic.web.pain import actions, selectors
from ketaclinic.web.pain.chart import pain_chart_svg
from ketaclinic.web.pain.models import NaloxoneOffer, OpioidMedication, PainKind
from ketaclinic.web.patients.views import chart_context, load_patient

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient
    from ketaclinic.web.treatment.models import DosingSession

PAGE_SIZE = 20
LEVEL_WORDS = {"warn": "Warning", "prompt": "Action", "info": "Note"}
ROUTE_WORDS = {
    "oral": "By mouth",
    "transdermal": "Skin patch",
    "sublingual": "Under the tongue",
    "buccal": "Buccal (inside the cheek)",
    "intravenous": "Intravenous",
    "intramuscular": "Intramuscular",
    "subcutaneous": "Subcutaneous",
    "intranasal": "Nasal",
    "rectal": "Rectal",
    "neuraxial": "Epidural or intrathecal",
}
UNIT_WORDS = {"mg": "mg", "mcg/h": "micrograms per hour"}
FIELD_LABELS = {
    "ingredient": "Opioid",
    "route": "Route",
    "dose": "Dose",
    "unit": "Unit",
    "doses_per_day": "Doses per day",
    "started_on": "Started on",
    "stopped_on": "Stopped on",
    "changed_on": "Changed on",
    "reason": "Reason",
    "kind": "Pain",
    "detail": "Which pain",
    "course": "Course",
    "outcome": "Outcome",
    "medication": "Opioid",
    "taken_at": "Taken at",
}
PAIN_INSTRUMENTS = ("peg", "pain-nrs")


def _num(v: Decimal | None) -> str:
    return "" if v is None else format_number(v)


def load_words(total: Decimal, complete: bool) -> str:
    """A load for people: "60", "at least 60" (a lower bound), or "not convertible" (nothing converts)."""
    if complete:
        return format_number(total)
    return "not convertible" if total == 0 else f"at least {format_number(total)}"


def _line_rows(meds: list[OpioidMedication], today: dt.date) -> list[dict[str, Any]]:
    table = load_mme_table()
    rows = []
    for m in meds:
        active = m.started_on <= today and (m.stopped_on is None or today < m.stopped_on)
        daily = m.dose if m.doses_per_day is None else m.dose * m.doses_per_day
        opioid = table.by_rxcui(m.rxcui)
        factor = opioid.factor if opioid and m.route in opioid.routes else None
        rows.append(
            {
                "m": m,
                "active": active,
                "route": ROUTE_WORDS.get(m.route, m.route),
                "dose": f"{_num(m.dose)} {UNIT_WORDS.get(m.unit, m.unit)}",
                "frequency": "continuous (patch)"
                if m.doses_per_day is None
                else f"{_num(m.doses_per_day)} a day",
                "mme": _num(daily * factor) if factor is not None else None,
            }
        )
    return rows


def _pain_scores(patient: Patient) -> dict[str, list[tuple[dt.datetime, float]]]:
    from ketaclinic.web.assessments.models import Assessment

    out: dict[str, list[tuple[dt.datetime, float]]] = {k: [] for k in PAIN_INSTRUMENTS}
    rows = Assessment.objects.filter(
        patient=patient, instrument_id__in=PAIN_INSTRUMENTS, complete=True, total__isnull=False
    ).order_by("assessed_at", "pk")
    for a in rows:
        if a.total is not None:  # excluded by the query; the column itself is nullable
            out[a.instrument_id].append((a.assessed_at, a.total))
    return {k: v for k, v in out.items() if v}


def _pain_response(
    points: list[tuple[dt.datetime, float]], base_day: dt.date | None
) -> dict[str, Any] | None:
    """Baseline (last score on or before the baseline day) and latest score, with the IMMPACT bands."""
    if not points or base_day is None:
        return None
    before = [p for p in points if timezone.localdate(p[0]) <= base_day]
    after = [p for p in points if timezone.localdate(p[0]) > base_day]
    if not before or not after:
        return None
    b, latest = Decimal(str(before[-1][1])), Decimal(str(after[-1][1]))
    if b == 0:
        return {"baseline": before[-1], "latest": after[-1], "pct": None, "band": "Baseline 0: no percentage"}
    fall = (b - latest) * 100 / b
    band = (
        "Substantial improvement (50 % or more)"
        if fall >= 50
        else "Moderate improvement (30 % or more)"
        if fall >= 30
        else "Less than 30 % improvement"
    )
    pct = ((latest - b) * 100 / b).quantize(Decimal("0.1"))
    return {"baseline": before[-1], "latest": after[-1], "pct": pct, "band": band}


def _render_tab(
    request: SignedInRequest,
    patient: Patient,
    *,
    errors: dict[str, list[str]] | None = None,
    form: str = "",
    status: int = 200,
) -> HttpResponse:
    ctx = chart_context(request, patient, "pain")
    today = timezone.localdate()
    summary = selectors.pain_summary(patient, today)
    meds = selectors.medications_for(patient)
    meds.sort(key=lambda m: (m.stopped_on is not None, -m.started_on.toordinal(), -m.pk))
    page = Paginator(_line_rows(meds, today), PAGE_SIZE).get_page(request.GET.get("page"))
    courses = list(selectors.pain_courses(patient))
    indications = selectors.indications_for(courses)
    scores = _pain_scores(patient)
    labels = {k: load_instrument(k).short_title for k in PAIN_INSTRUMENTS}
    table = load_mme_table()
    clinic_id = patient.clinic_id
    ctx.update(
        {
            "summary": summary,
            "total": load_words(summary.load.total_mme_per_day, summary.load.complete),
            "findings": [
                {
                    "level": f.level,
                    "message": f.message,
                    "source": f.source,
                    "words": LEVEL_WORDS.get(f.level, f.level),
                }
                for f in summary.load.findings
            ],
            "naloxone_due": "naloxone_offer" in summary.load.finding_codes and summary.naloxone_offer is None,
            "changes": [
                {
                    "weeks": w,
                    "c": c,
                    "fell": c is not None
                    and c.comparable
                    and c.pct_change is not None
                    and -c.pct_change >= table.sparing_reduction_pct,
                    "due": (summary.baseline_day + dt.timedelta(weeks=w)) if summary.baseline_day else None,
                }
                for w, c in summary.changes
            ],
            "reduction_pct": table.sparing_reduction_pct,
            "page": page,
            "courses": [(c, indications.get(c.pk)) for c in courses],
            "chart": pain_chart_svg(summary.series, scores, summary.baseline_day, labels),
            "responses": [
                (labels[k], r)
                for k in PAIN_INSTRUMENTS
                if (r := _pain_response(scores.get(k, []), summary.baseline_day))
            ],
            "opioids": [(o.rxcui, o.name.capitalize()) for o in table.opioids],
            "routes": [(r, ROUTE_WORDS.get(r, r)) for r in table.routes],
            "units": [(u, UNIT_WORDS[u]) for u in OpioidMedication.Unit.values],
            "kinds": PainKind.choices,
            "outcomes": NaloxoneOffer.Outcome.choices,
            "today": today.isoformat(),
            "can_record": has_perm_in_clinic(request.user, clinic_id, actions.LIST_PERM),
            "can_manage_course": has_perm_in_clinic(request.user, clinic_id, actions.COURSE_PERM),
            "errors": errors or {},
            "error_form": form,
            "error_rows": [(FIELD_LABELS.get(k, k), m) for k, msgs in (errors or {}).items() for m in msgs],
            "values": request.POST if errors else None,
            "factors_version": table.version,
        }
    )
    return render(request, "pain/chart_tab.html", ctx, status=status)


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _render_tab(request, load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW))


def _post(request: SignedInRequest, patient_id: int, form: str, call: Any, ok: str) -> HttpResponse:
    try:
        call()
    except ValidationFailed as exc:
        patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW, audit=False)
        return _render_tab(request, patient, errors=exc.fields, form=form, status=400)
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    else:
        messages.success(request, ok)
    return redirect("pain:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def add_medication(request: SignedInRequest, patient_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        "add",
        lambda: actions.do_add_opioid_medication(
            actor=request.user,
            patient_id=patient_id,
            rxcui=p.get("ingredient", ""),
            route=p.get("route", ""),
            dose=p.get("dose", ""),
            unit=p.get("unit", ""),
            doses_per_day=p.get("doses_per_day", ""),
            started_on=p.get("started_on", ""),
            request=request,
        ),
        "Opioid added to the list.",
    )


@login_required
@require_POST
def change_dose(request: SignedInRequest, patient_id: int, medication_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        f"change-{medication_id}",
        lambda: actions.do_change_opioid_dose(
            actor=request.user,
            medication_id=medication_id,
            dose=p.get("dose", ""),
            doses_per_day=p.get("doses_per_day", ""),
            changed_on=p.get("changed_on", ""),
            request=request,
        ),
        "Dose changed from that day.",
    )


@login_required
@require_POST
def stop_medication(request: SignedInRequest, patient_id: int, medication_id: int) -> HttpResponse:
    p = request.POST
    return _post(
        request,
        patient_id,
        f"stop-{medication_id}",
        lambda: actions.do_stop_opioid_medication(
            actor=request.user,
            medication_id=medication_id,
            stopped_on=p.get("stopped_on", ""),
            reason=p.get("reason", ""),
            request=request,
        ),
        "Opioid stopped.",
    )


@login_required
@require_POST
def overdose_history(request: SignedInRequest, patient_id: int) -> HttpResponse:
    value = {"yes": True, "no": False}.get(request.POST.get("overdose_history", ""))
    return _post(
        request,
        patient_id,
        "overdose",
        lambda: actions.do_set_overdose_history(
            actor=request.user,
            patient_id=patient_id,
            overdose_history=value,
            request=request,
        ),
        "Overdose history saved.",
    )


@login_required
@require_POST
def naloxone_offer(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        "naloxone",
        lambda: actions.do_record_naloxone_offer(
            actor=request.user,
            patient_id=patient_id,
            outcome=request.POST.get("outcome", ""),
            request=request,
        ),
        "Naloxone offer recorded.",
    )


@login_required
@require_POST
def set_indication(request: SignedInRequest, patient_id: int, course_id: int) -> HttpResponse:
    return _post(
        request,
        patient_id,
        f"course-{course_id}",
        lambda: actions.do_set_pain_indication(
            actor=request.user,
            course_id=course_id,
            kind=request.POST.get("kind", ""),
            detail=request.POST.get("detail", ""),
            request=request,
        ),
        "Pain indication saved.",
    )


def _parse_local_dt(raw: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@login_required
@require_POST
def last_dose(request: SignedInRequest, session_id: int) -> HttpResponse:
    p = request.POST
    none_today = p.get("none_today") == "on"
    med = p.get("medication", "")
    taken = _parse_local_dt(p.get("taken_at", "")) if p.get("taken_at") else None
    try:
        if p.get("taken_at") and taken is None:
            raise ValidationFailed({"taken_at": ["must be a date and time"]})
        actions.do_record_last_opioid_dose(
            actor=request.user,
            session_id=session_id,
            medication_id=int(med) if med.isdigit() else None,
            taken_at=taken,
            none_today=none_today,
            request=request,
        )
    except DomainError as exc:
        detail = (
            "; ".join(f"{FIELD_LABELS.get(k, k)}: {' '.join(v)}" for k, v in exc.fields.items())
            or exc.message
        )
        messages.error(request, f"Nothing was saved: {detail}")
    else:
        messages.success(request, "Last opioid dose recorded.")
    return redirect("treatment:session", session_id=session_id)


def run_sheet_panel(request: SignedInRequest, session: DosingSession) -> SafeString | None:
    """The run sheet's opioid panel: today's load, its warnings, the last opioid dose and the screening's caution."""
    patient = session.patient
    meds = [
        m
        for m in selectors.medications_for(patient)
        if m.stopped_on is None or m.stopped_on > timezone.localdate()
    ]
    caution = selectors.cns_caution(patient)
    if not meds and caution is None and session.course.indication != selectors.PAIN_INDICATION:
        return None
    load = selectors.current_load(patient)
    last = selectors.last_opioid_dose(session)
    ctx = {
        "s": session,
        "total": load_words(load.total_mme_per_day, load.complete),
        "load": load,
        "findings": [
            {"message": f.message, "words": LEVEL_WORDS.get(f.level, f.level), "level": f.level}
            for f in load.findings
        ],
        "meds": [m for m in meds if m.started_on <= timezone.localdate()],
        "last": last,
        "caution": caution,
        "can_record": session.status in ("scheduled", "checked_in", "pre_dose_checks")
        and has_perm_in_clinic(request.user, patient.clinic_id, Perm.SESSION_RUN),
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    # The template engine's output is already safe HTML; the stubs type render_to_string as plain str.
    return SafeString(render_to_string("pain/_run_sheet_panel.html", ctx, request=request))


@login_required
def clinic_page(request: SignedInRequest) -> HttpResponse:
    """The clinic's opioid sparing: share of pain patients whose MME/day fell by the threshold, with its denominator."""
    clinic = clinic_for_request(request)
    if clinic is None or not has_perm_in_clinic(request.user, clinic, Perm.PATIENT_VIEW):
        raise Http404("no clinic")
    # The opioid-sparing cohort is clinical data: a member without clinical reads is refused (and audited).
    clinic = active_clinic(request, Perm.CLINICAL_VIEW)
    share, rows = selectors.clinic_sparing(clinic)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    record_audit(
        actor=request.user,
        action=AuditAction.PAIN_COHORT_VIEW,
        clinic=clinic,
        request=request,
        detail={"patients": len(rows), "page": page.number},
    )
    return render(
        request,
        "pain/clinic.html",
        {
            "clinic": clinic,
            "share": share,
            "page": page,
            "rows": [
                {
                    "r": r,
                    "baseline": load_words(r.baseline.total, r.baseline.complete) if r.baseline else None,
                    "current": load_words(r.current.total, r.current.complete),
                }
                for r in page.object_list
            ],
        },
    )
