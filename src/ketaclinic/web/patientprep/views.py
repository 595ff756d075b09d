"""Thin views: the patient's session page (no sign-in: the signed link is the credential) and the staff's link actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.lib.errors import DomainError, ValidationFailed
from ketaclinic.web.patientprep import actions, selectors


def page(request: HttpRequest, token: str) -> HttpResponse:
    """Before the session: preparation and attendance. After it: integration prompts and open questionnaires."""
    try:
        link = actions.resolve(token)
    except actions.LinkClosed as exc:
        return render(request, "patientprep/closed.html", {"message": exc.message}, status=410)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("form") == "reflection":
                actions.do_submit_reflection(token=token, answers=request.POST.dict(), request=request)
            else:
                actions.do_confirm_attendance(
                    token=token,
                    attending=request.POST.get("attending", ""),
                    escort_name=request.POST.get("escort_name", ""),
                    request=request,
                )
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
        except actions.LinkClosed as exc:
            return render(request, "patientprep/closed.html", {"message": exc.message}, status=410)
        else:
            return redirect("patientprep:page", token=token)
        link = actions.resolve(token)
    ctx = selectors.page_context(link)
    ctx.update({"errors": errors, "values": request.POST if request.method == "POST" else None})
    with timezone.override(selectors.site_zone(link.dosing_session.site)):  # times in the site's zone
        return render(request, "patientprep/page.html", ctx, status=status)


@login_required
@require_POST
def create_link(request: SignedInRequest, patient_id: int, session_id: int) -> HttpResponse:
    try:
        _link, url = actions.do_create_session_link(
            actor=request.user, patient_id=patient_id, dosing_session_id=session_id, request=request
        )
    except DomainError as exc:
        detail = "; ".join(f"{' '.join(v)}" for v in exc.fields.values()) or exc.message
        messages.error(request, f"No link was made: {detail}")
    else:
        messages.success(request, f"Send the patient this personal link: {request.build_absolute_uri(url)}")
    return redirect("careplan:chart_tab", patient_id=patient_id)


@login_required
@require_POST
def revoke_link(request: SignedInRequest, patient_id: int, link_id: int) -> HttpResponse:
    try:
        actions.do_revoke_session_link(actor=request.user, link_id=link_id, request=request)
    except DomainError as exc:
        messages.error(request, f"Nothing was changed: {exc.message}")
    else:
        messages.success(request, "Link withdrawn.")
    return redirect("careplan:chart_tab", patient_id=patient_id)
