"""Role grants waiting for approval, for the clinic's registrant (who may not be an admin) and its admins."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaclinic.web.access import clinic_for_request
from ketaclinic.web.accounts import staff
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.errors import DomainError, PermissionDeniedError


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def pending_grants_view(request: SignedInRequest) -> HttpResponse:
    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    is_registrant = clinic.registrant_id == request.user.pk
    if not is_registrant and not has_perm_in_clinic(request.user, clinic, Perm.CLINIC_ADMIN):
        raise PermissionDeniedError("only the clinic's registrant or a clinic admin may approve role grants")
    status = 200
    if request.method == "POST":
        try:
            m = staff.do_approve_grant(
                actor=request.user,
                clinic=clinic,
                membership_id=request.POST.get("membership_id"),
                request=request,
            )
            messages.success(request, f"{m.get_role_display()} of {m.user} approved.")
            return redirect("clinics:grants")
        except DomainError as exc:
            messages.error(request, exc.message)
            status = exc.status
    return render(
        request,
        "clinics/grants.html",
        {"clinic": clinic, "grants": staff.pending_grants(clinic), "is_registrant": is_registrant},
        status=status,
    )
