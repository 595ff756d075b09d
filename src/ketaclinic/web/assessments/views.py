"""Thin views: the chart's Assessments tab (entry, trends, table, outcomes, alerts, links) and the remote page."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.core.instruments import INSTRUMENT_IDS, Instrument, all_instruments, load_instrument
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.assessments import actions, selectors
from ketaclinic.web.assessments.models import Context, SuicideAlert
from ketaclinic.web.assessments.providers import dose_times
from ketaclinic.web.assessments.trends import trend_svg
from ketaclinic.web.lib.errors import DomainError, ValidationFailed
from ketaclinic.web.lib.timezones import zone_name_of_clinic, zone_or_default
from ketaclinic.web.patients.views import chart_context, load_patient

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient


def _answers_from_post(defn: Instrument, data: Any) -> list[Any]:
    out: list[Any] = []
    for item in defn.items:
        raw = str(data.get(f"item_{item.code}", "")).strip()
        if raw == "":
            out.append(None)
        else:
            try:
                out.append(int(raw))
            except ValueError:
                out.append(raw)
    return out


def _items_for_form(
    defn: Instrument, values: list[Any], errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    return [
        {
            "item": item,
            "name": f"item_{item.code}",
            "value": values[item.n - 1] if values else None,
            "errors": errors.get(f"item_{item.code}", []),
            "text": item.text if defn.wording_included and item.text else item.label,
        }
        for item in defn.items
    ]


def _links_for_tab(
    request: SignedInRequest, patient: Patient, now: dt.datetime
) -> list[tuple[Any, str, str]]:
    """(link, status, url): the personal URL is shown only to staff who may send links, and only while the link
    can still be answered (open or scheduled), so scheduler-made links can be sent to the patient."""
    can_send = has_perm_in_clinic(request.user, patient.clinic_id, Perm.ASSESSMENT_RECORD)
    out = []
    for link in selectors.links_for_patient(patient)[:50]:
        status = link.status_at(now)
        url = ""
        if can_send and status in ("open", "scheduled"):
            url = request.build_absolute_uri(actions.link_url(link))
        out.append((link, status, url))
    return out


@login_required
def chart_tab(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, perm=Perm.CLINICAL_VIEW)
    ctx = chart_context(request, patient, "assessments")
    doses = dose_times(patient)
    trends = []
    for tr in selectors.trends_for_patient(patient):
        trends.append(
            {
                "trend": tr,
                "svg": trend_svg(
                    tr.definition, [(a.assessed_at, a.total or 0) for a in tr.assessments], doses
                ),
            }
        )
    now = timezone.now()
    clinic_id = patient.clinic_id
    live_refresh = request.headers.get("HX-Request") == "true"
    ctx.update(
        {
            "trends": trends,
            "assessments": selectors.assessment_rows_for_patient(patient)[:200],
            "alerts": selectors.alerts_for_patient(patient),
            "links": _links_for_tab(request, patient, now),
            "schedules": selectors.schedules_for_patient(patient),
            "instruments": all_instruments(),
            "remote_instruments": [load_instrument(i) for i in actions.REMOTE_INSTRUMENTS],
            "can_record": has_perm_in_clinic(request.user, clinic_id, Perm.ASSESSMENT_RECORD),
            "can_ack": has_perm_in_clinic(request.user, clinic_id, Perm.ALERT_ACKNOWLEDGE),
            "ack_actions": SuicideAlert.Action.choices,
            "new_link_url": None if live_refresh else request.session.pop("kc_new_link_url", None),
            "dose_count": len(doses),
        }
    )
    if live_refresh:
        # A live in-place refresh swaps only the tab and the banners: leave flash messages for the next full page.
        ctx["messages"] = []
    return render(request, "assessments/chart_tab.html", ctx)


@login_required
def new_assessment(request: SignedInRequest, patient_id: int) -> HttpResponse:
    patient = load_patient(request, patient_id, perm=Perm.ASSESSMENT_RECORD, audit=request.method != "POST")
    iid = request.POST.get("instrument") or request.GET.get("instrument") or "phq9"
    if iid not in INSTRUMENT_IDS:
        iid = "phq9"
    defn = load_instrument(iid)
    errors: dict[str, list[str]] = {}
    values: list[Any] = []
    status = 200
    form = {
        "context": request.POST.get("context", Context.FOLLOW_UP),
        "assessed_at": request.POST.get("assessed_at", timezone.localtime().strftime("%Y-%m-%dT%H:%M")),
    }
    if request.method == "POST":
        values = _answers_from_post(defn, request.POST)
        assessed_at: Any = None
        try:
            assessed_at = dt.datetime.fromisoformat(form["assessed_at"])
            if timezone.is_naive(assessed_at):
                assessed_at = timezone.make_aware(assessed_at)
        except ValueError:
            errors["assessed_at"] = ["must be a date and time"]
        try:
            if errors:
                raise ValidationFailed(errors)
            a = actions.do_record_assessment(
                actor=request.user,
                patient_id=patient.pk,
                instrument_id=iid,
                answers=values,
                context=form["context"],
                assessed_at=assessed_at,
                request=request,
            )
        except ValidationFailed as exc:
            errors = exc.fields
            status = 400
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("assessments:chart_tab", patient_id=patient.pk)
        else:
            if a.complete:
                summary = f"{defn.short_title} saved: total {a.total}" + (
                    f" ({a.severity})" if a.severity else ""
                )
            else:
                summary = f"{defn.short_title} saved as INCOMPLETE (not scored)"
            messages.success(request, summary + ".")
            if a.suicide_risk:
                messages.warning(request, "Suicide-risk alert raised and sent to the prescriber(s).")
            return redirect("assessments:chart_tab", patient_id=patient.pk)
    ctx = chart_context(request, patient, "assessments")
    ctx.update(
        {
            "defn": defn,
            "instruments": all_instruments(),
            "items": _items_for_form(defn, values, errors),
            "errors": errors,
            "form": form,
            "contexts": Context.choices,
        }
    )
    return render(request, "assessments/form.html", ctx, status=status)


def _post_action(request: SignedInRequest, patient_id: int, fn: Any, ok: str) -> HttpResponse:
    try:
        fn()
        messages.success(request, ok)
    except DomainError as exc:
        messages.error(request, f"Nothing was saved: {exc.message}")
    return redirect("assessments:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def create_link(request: SignedInRequest, patient_id: int) -> HttpResponse:
    def run() -> None:
        _link, url = actions.do_create_remote_link(
            actor=request.user,
            patient_id=patient_id,
            instrument_id=request.POST.get("instrument"),
            valid_hours=request.POST.get("valid_hours", 72),
            request=request,
        )
        request.session["kc_new_link_url"] = request.build_absolute_uri(url)

    return _post_action(request, patient_id, run, "Personal link created. Send it to the patient.")


@login_required
@require_POST
def revoke_link(request: SignedInRequest, patient_id: int, link_id: int) -> HttpResponse:
    return _post_action(
        request,
        patient_id,
        lambda: actions.do_revoke_remote_link(actor=request.user, link_id=link_id, request=request),
        "Link revoked.",
    )


@login_required
@require_POST
def create_schedule(request: SignedInRequest, patient_id: int) -> HttpResponse:
    return _post_action(
        request,
        patient_id,
        lambda: actions.do_create_schedule(
            actor=request.user,
            patient_id=patient_id,
            instrument_id=request.POST.get("instrument"),
            kind=request.POST.get("kind"),
            interval_days=request.POST.get("interval_days") or None,
            delay_hours=request.POST.get("delay_hours") or None,
            valid_hours=request.POST.get("valid_hours", 72),
            request=request,
        ),
        "Schedule created.",
    )


@login_required
@require_POST
def stop_schedule(request: SignedInRequest, patient_id: int, schedule_id: int) -> HttpResponse:
    return _post_action(
        request,
        patient_id,
        lambda: actions.do_deactivate_schedule(actor=request.user, schedule_id=schedule_id, request=request),
        "Schedule stopped.",
    )


@login_required
@require_POST
def acknowledge_alert(request: SignedInRequest, patient_id: int, alert_id: int) -> HttpResponse:
    return _post_action(
        request,
        patient_id,
        lambda: actions.do_acknowledge_alert(
            actor=request.user,
            alert_id=alert_id,
            action=request.POST.get("action"),
            note=request.POST.get("note"),
            request=request,
        ),
        "Alert acknowledged.",
    )


def _link_closed(request: HttpRequest, exc: actions.LinkUnavailable) -> HttpResponse:
    """The page a patient sees when the link can no longer be used (410 Gone), saying why."""
    return render(
        request,
        "assessments/remote_closed.html",
        {"message": exc.message, "reason": exc.reason},
        status=410,
    )


def remote(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's phone page: no login; the signed token is the only credential."""
    try:
        link = actions.resolve_link(token)
    except actions.LinkUnavailable as exc:
        return _link_closed(request, exc)
    defn = load_instrument(link.instrument_id)
    errors: dict[str, list[str]] = {}
    values: list[Any] = []
    status = 200
    if request.method == "POST":
        values = _answers_from_post(defn, request.POST)
        try:
            actions.do_submit_remote_answers(token=token, answers=values, request=request)
        except ValidationFailed as exc:
            errors = exc.fields
            status = 400
        except actions.LinkUnavailable as exc:
            return _link_closed(request, exc)
        else:
            return render(request, "assessments/remote_done.html", {"defn": defn})
    # No one is signed in: the page's times are the patient's home site's (else their clinic's).
    site = link.patient.home_site
    zone = zone_or_default(site.timezone if site is not None else zone_name_of_clinic(link.clinic))
    with timezone.override(zone):
        return render(
            request,
            "assessments/remote.html",
            {"defn": defn, "items": _items_for_form(defn, values, errors), "errors": errors, "link": link},
            status=status,
        )
