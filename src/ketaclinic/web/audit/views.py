"""The auditor's view of the audit trail: browse and filter (read-only; there is no edit path)."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_clinic_by_id, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.audit.present import action_label, detail_rows, text_in_words
from ketaclinic.web.audit.selectors import audit_action_codes, audit_actor_names, audit_event_list
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import PermissionDeniedError, ValidationFailed
from ketaclinic.web.lib.pagination import page_number, paginate


def _date(raw: str, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = ["must be a date in YYYY-MM-DD format"]
        return None


@login_required
def audit_list(request: SignedInRequest) -> HttpResponse:
    from django.shortcuts import render

    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.AUDIT_VIEW)
    errors: dict[str, list[str]] = {}
    g = request.GET
    since = _date(g.get("since", ""), "since", errors)
    until = _date(g.get("until", ""), "until", errors)
    patient_raw = g.get("patient", "").strip()
    if patient_raw and not patient_raw.isdigit():
        errors["patient"] = ["must be a patient id (a number)"]
    if since and until and since > until:
        errors["until"] = ["must be on or after the from date"]
    page_number(request)  # a bad page number is refused before anything is recorded
    if errors:
        raise ValidationFailed(errors)
    qs = audit_event_list(
        user=request.user,
        clinic_id=clinic.pk,
        actor=g.get("actor", "").strip(),
        action=g.get("action", "").strip(),
        patient_id=int(patient_raw) if patient_raw else None,
        patient_mrn=g.get("mrn", "").strip(),
        since=since,
        until=until,
    ).select_related("patient")
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action=AuditAction.AUDIT_VIEW,
            clinic=clinic,
            request=request,
            detail={k: v for k, v in g.items() if k != "page"},
        )
    if g.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "at",
                "actor",
                "action",
                "object_type",
                "object_id",
                "object",
                "patient_id",
                "ip",
                "path",
                "detail",
            ]
        )
        for e in qs[:50000]:
            writer.writerow(
                [
                    e.at.isoformat(),
                    e.actor_label,
                    e.action,
                    e.object_type,
                    e.object_id,
                    e.object_repr,
                    e.patient_id or "",
                    e.ip_address or "",
                    e.request_path,
                    e.detail,
                ]
            )
        return response
    page = paginate(request, qs)
    rows = [
        {
            "e": e,
            "label": action_label(e.action),
            "record": text_in_words(e.object_repr),
            "detail": detail_rows(e.detail),
        }
        for e in page
    ]
    actions = [
        (code, action_label(code)) for code in audit_action_codes(user=request.user, clinic_id=clinic.pk)
    ]
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "rows": rows,
            "filters": g,
            "action_choices": actions,
            "actor_names": audit_actor_names(user=request.user, clinic_id=clinic.pk),
            "filtered": any(g.get(k) for k in ("actor", "action", "patient", "mrn", "since", "until")),
        },
    )
