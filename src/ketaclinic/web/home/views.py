"""Views of the staff's starting points: the role home page and the alert inbox (thin: parse, call, render)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.home import actions, inbox
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed

PAGE_SIZE = 25


def _filters(request: SignedInRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The inbox's filters from the query string, each checked against its choices."""
    values = {
        "kind": request.GET.get("kind", "").strip(),
        "severity": request.GET.get("severity", "").strip(),
        "page": request.GET.get("page", "").strip(),
    }
    errors: dict[str, list[str]] = {}
    if values["kind"] and values["kind"] not in inbox.KIND_LABELS:
        errors["kind"] = ["must be one of: " + ", ".join(inbox.KIND_LABELS.values())]
    if values["severity"] and values["severity"] not in inbox.SEVERITY_LABELS:
        errors["severity"] = ["must be one of: " + ", ".join(inbox.SEVERITY_LABELS.values())]
    if values["page"] and (not values["page"].isdigit() or int(values["page"]) < 1):
        errors["page"] = ["must be a page number (1 or more)"]
    return values, errors


@login_required
@require_http_methods(["GET", "POST"])
def alerts(request: SignedInRequest) -> HttpResponse:
    """The alert inbox: every open alert of the active clinic the user may see; POST acknowledges one."""
    clinic = clinic_for_request(request)
    if clinic is None or not has_perm_in_clinic(request.user, clinic, Perm.CLINICAL_VIEW):
        raise PermissionDeniedError("your role in this clinic does not show clinical alerts")
    form_errors: dict[str, list[str]] = {}
    posted: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        posted = {k: request.POST.get(k, "") for k in ("kind", "ref", "patient", "action", "note")}
        try:
            actions.do_acknowledge_inbox_alert(
                actor=request.user,
                clinic=clinic,
                kind=posted["kind"],
                ref=posted["ref"],
                patient_id=posted["patient"],
                action=posted["action"],
                note=posted["note"],
                request=request,
            )
        except ValidationFailed as exc:
            form_errors, status = exc.fields, 400
        except ConflictError as exc:
            messages.error(request, f"Not acknowledged: {exc.message}.")
            return redirect(request.get_full_path())
        else:
            messages.success(request, "Alert acknowledged. It has left the inbox.")
            return redirect(request.get_full_path())
    values, errors = _filters(request)
    if errors:
        status = 400
    items = (
        []
        if errors
        else inbox.inbox_alerts(request.user, clinic, kind=values["kind"], severity=values["severity"])
    )
    page = Paginator(items, PAGE_SIZE).get_page(values["page"] or 1)
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.ALERT_INBOX_VIEW,
            clinic=clinic,
            request=request,
            detail={
                "kind": values["kind"],
                "severity": values["severity"],
                "page": page.number,
                "alerts": page.paginator.count,
                "patients": sorted({a.patient.pk for a in page.object_list}),
            },
        )
    posted_key = f"{posted.get('kind')}-{posted.get('patient')}-{posted.get('ref')}" if posted else ""
    context: dict[str, Any] = {
        "page": page,
        "values": values,
        "errors": errors,
        "form_errors": form_errors,
        "posted": posted,
        "posted_key": posted_key,
        "kinds": list(inbox.KIND_LABELS.items()),
        "severities": list(inbox.SEVERITY_LABELS.items()),
        "field_labels": {"action": "Action taken", "note": "Note", "kind": "Kind", "alert": "Alert",
                         "patient": "Patient"},
    }  # fmt: skip
    return render(request, "home/alerts.html", context, status=status)


@login_required
def home(request: SignedInRequest) -> HttpResponse:
    """The signed-in user's home page: the sections of every role they hold in the active clinic. A member who
    may only see outcomes (a researcher) lands on the outcomes page."""
    from ketaclinic.web.accounts.roles import roles_in_clinic
    from ketaclinic.web.home.sections import sections_for

    clinic = clinic_for_request(request)
    if clinic is None:
        return render(request, "patients/no_clinic.html", status=403)
    if not has_perm_in_clinic(request.user, clinic, Perm.PATIENT_VIEW) and has_perm_in_clinic(
        request.user, clinic, Perm.OUTCOMES_VIEW
    ):
        return redirect("outcomes:page")
    roles = roles_in_clinic(request.user, clinic.pk)
    sections = sections_for(request.user, clinic, roles)
    if has_perm_in_clinic(request.user, clinic, Perm.CLINICAL_VIEW):
        with transaction.atomic():
            record_audit(
                actor=request.user,
                action=AuditAction.HOME_VIEW,
                clinic=clinic,
                request=request,
                detail={"sections": {s.key: s.count for s in sections}},
            )
    return render(request, "home/home.html", {"sections": sections})
