"""Thin views: parse input, call an action or selector, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError, ValidationFailed


@login_required
@require_GET
def pk_curve(request: SignedInRequest, patient_id: int) -> HttpResponse:
    """HTMX fragment: predicted concentration curve (typical + 5-95 % band) for a proposed order and this patient.

    GET: drug, route, amount_mg, duration_min?, model?, horizon_min?, prior=route:amount_mg:minutes_before[:dur]*.
    """
    from ketaclinic.web.decision.pk import build_pk_curve

    try:
        patient = access_patient_by_id(
            request.user,
            patient_id,
            perm=Perm.CLINICAL_VIEW,
            request=request,
            audit_action=AuditAction.DECISION_PK_CURVE_VIEW,
        )
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except PermissionDeniedError as exc:
        return render(request, "decision/pk_curve.html", {"errors": {"patient": [str(exc)]}}, status=403)
    weight = patient.latest_weight()
    age = patient.age_on(timezone.localdate())
    try:
        curve = build_pk_curve(
            request.GET,
            request.GET.getlist("prior"),
            weight_kg=float(weight.weight_kg) if weight is not None else None,
            age=float(age),
        )
    except ValidationFailed as exc:
        return render(request, "decision/pk_curve.html", {"errors": exc.fields}, status=400)
    return render(request, "decision/pk_curve.html", {"curve": curve, "patient": patient})
