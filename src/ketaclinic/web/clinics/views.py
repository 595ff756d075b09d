"""Clinic settings for clinic admins: details, sites, registrations and staff accounts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from ketaclinic.web.accounts.actions import do_create_user
from ketaclinic.web.accounts.models import User
from ketaclinic.web.accounts.roles import Perm, Role, require_perm
from ketaclinic.web.clinics import actions
from ketaclinic.web.clinics.jurisdictions import JURISDICTION_CHOICES
from ketaclinic.web.clinics.models import Registration
from ketaclinic.web.lib.access import clinic_for_request
from ketaclinic.web.lib.errors import DomainError, PermissionDeniedError, ValidationFailed


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    require_perm(request.user, clinic, Perm.CLINIC_ADMIN)
    errors: dict[str, list[str]] = {}
    form = request.POST.get("form", "")
    status = 200
    if request.method == "POST":
        try:
            if form == "clinic":
                actions.do_update_clinic(
                    actor=request.user, clinic=clinic, values=request.POST, request=request
                )
                messages.success(request, "Clinic details saved.")
            elif form == "site":
                site_id = request.POST.get("site_id") or None
                actions.do_save_site(
                    actor=request.user,
                    clinic=clinic,
                    values=request.POST,
                    site_id=int(site_id) if site_id else None,
                    request=request,
                )
                messages.success(request, "Site saved.")
            elif form == "registration":
                actions.do_add_registration(
                    actor=request.user,
                    clinic=clinic,
                    site_id=int(request.POST.get("site_id") or 0),
                    kind=request.POST.get("kind", ""),
                    number=request.POST.get("number", ""),
                    expires_on=request.POST.get("expires_on", ""),
                    schedules=request.POST.get("schedules", ""),
                    request=request,
                )
                messages.success(request, "Registration added.")
            elif form == "user":
                do_create_user(
                    actor=request.user,
                    clinic=clinic,
                    username=request.POST.get("username", ""),
                    password=request.POST.get("password", ""),
                    roles=request.POST.getlist("roles"),
                    display_name=request.POST.get("display_name", ""),
                    email=request.POST.get("email", ""),
                )
                messages.success(request, "User created.")
            return redirect("clinics:settings")
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
            messages.error(request, exc.message)
        except DomainError as exc:
            messages.error(request, exc.message)
            status = exc.status
    staff = (
        User.objects.filter(memberships__clinic=clinic)
        .distinct()
        .order_by("username")
        .prefetch_related("memberships")
    )
    ctx = {
        "clinic": clinic,
        "sites": clinic.sites.prefetch_related("registrations"),
        "jurisdictions": JURISDICTION_CHOICES,
        "registration_kinds": Registration.Kind.choices,
        "roles": [(r.value, r.label) for r in Role],
        "staff": [
            (u, [m.get_role_display() for m in u.memberships.all() if m.clinic_id == clinic.pk])
            for u in staff
        ],
        "errors": errors,
        "form": form,
        "post": request.POST,
        "today": timezone.localdate(),
        "now": timezone.now(),
    }
    return render(request, "clinics/settings.html", ctx, status=status)
