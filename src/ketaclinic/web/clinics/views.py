"""Clinic settings for clinic admins: details, sites, registrations, API token lifetime; the staff page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from ketaclinic.web.access import clinic_for_request
from ketaclinic.web.accounts import staff, twofactor
from ketaclinic.web.accounts.models import User
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, Role, require_perm
from ketaclinic.web.clinics import actions
from ketaclinic.web.clinics.jurisdictions import JURISDICTION_CHOICES
from ketaclinic.web.clinics.models import Registration
from ketaclinic.web.lib.errors import DomainError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.lib.pagination import page_number, paginate

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic


def _admin_clinic(request: SignedInRequest) -> Clinic:
    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    require_perm(request.user, clinic, Perm.CLINIC_ADMIN)
    return clinic


@login_required
def staff_view(request: SignedInRequest) -> HttpResponse:
    """Staff of the clinic: invite, grant and approve roles, deactivate, reset, revoke tokens (one page of 50)."""
    clinic = _admin_clinic(request)
    page_number(request)
    errors: dict[str, list[str]] = {}
    form = request.POST.get("form", "")
    status = 200
    if request.method == "POST":
        try:
            if form not in STAFF_FORMS:
                raise ValidationFailed({"form": ["is not a staff form"]})
            link = _staff_form(request, clinic, form)
            if link is not None:
                one_time_link = request.build_absolute_uri(reverse("accounts:set_password", args=[link]))
                messages.success(
                    request, "Copy the one-time link below and give it to the person; it is shown once."
                )
                return _render_staff(request, clinic, {}, "", 200, one_time_link)
            return redirect("clinics:staff")
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
        except DomainError as exc:
            messages.error(request, exc.message)
            status = exc.status
    return _render_staff(request, clinic, errors, form, status, None)


STAFF_STATUSES = {"active": "Active", "pending": "Waiting for approval", "inactive": "Inactive"}


def _render_staff(
    request: SignedInRequest,
    clinic: Clinic,
    errors: dict[str, list[str]],
    form: str,
    status: int,
    one_time_link: str | None,
) -> HttpResponse:
    now = timezone.now()
    query = request.GET.get("q", "").strip()
    state = request.GET.get("status", "")
    if state and state not in STAFF_STATUSES:
        raise ValidationFailed({"status": [f"must be one of {', '.join(STAFF_STATUSES)}"]})
    users = User.objects.filter(memberships__clinic=clinic).distinct().order_by("username")
    if query:
        users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    if state == "inactive":
        users = users.filter(is_active=False)
    elif state == "active":
        users = users.filter(is_active=True)
    elif state == "pending":
        users = users.filter(
            Q(memberships__effective_from__isnull=True) | Q(memberships__effective_from__gt=now),
            memberships__clinic=clinic,
            memberships__is_active=True,
            memberships__approved_at__isnull=True,
            memberships__approval_required=True,
        )
    page = paginate(request, users.prefetch_related("memberships"))
    rows = []
    for u in page:
        grants = [
            {
                "m": m,
                "state": "revoked" if not m.is_active else ("active" if m.is_effective(now) else "pending"),
            }
            for m in sorted(u.memberships.all(), key=lambda m: m.pk)
            if m.clinic_id == clinic.pk
        ]
        rows.append((u, grants))
    ctx = {
        "clinic": clinic,
        "roles": [(r.value, r.label) for r in Role],
        "staff": rows,
        "page": page,
        "everyone": User.objects.filter(memberships__clinic=clinic).distinct().order_by("username"),
        "statuses": STAFF_STATUSES,
        "filters": {"q": query, "status": state},
        "errors": errors,
        "labels": {
            "username": "Username",
            "display_name": "Display name",
            "email": "Email",
            "roles": "Roles",
            "user_id": "Staff member",
            "role": "Role",
            "membership_id": "Role grant",
        },
        "form": form,
        "post": request.POST,
        "now": now,
        "one_time_link": one_time_link,
    }
    return render(request, "clinics/staff.html", ctx, status=status)


@login_required
def settings_view(request: SignedInRequest) -> HttpResponse:
    clinic = _admin_clinic(request)
    errors: dict[str, list[str]] = {}
    form = request.POST.get("form", "")
    status = 200
    if request.method == "POST" and form in STAFF_FORMS:
        return staff_view(request)  # the staff forms once lived on this page
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
            elif form == "two_factor_policy":
                twofactor.do_set_two_factor_for_all(
                    actor=request.user,
                    clinic=clinic,
                    required=request.POST.get("require_two_factor_for_all") == "on",
                    request=request,
                )
                messages.success(request, "Two-factor sign-in policy saved.")
            elif form == "token_policy":
                actions.do_set_token_lifetime(
                    actor=request.user,
                    clinic=clinic,
                    days=request.POST.get("api_token_days", ""),
                    request=request,
                )
                messages.success(request, "API token lifetime saved.")
            elif form == "small_cells":
                actions.do_set_small_cell_threshold(
                    actor=request.user,
                    clinic=clinic,
                    threshold=request.POST.get("small_cell_threshold", ""),
                    request=request,
                )
                messages.success(request, "Small-count threshold saved.")
            return redirect("clinics:settings")
        except ValidationFailed as exc:
            errors, status = exc.fields, 400  # shown once, in the error summary and at the fields
        except DomainError as exc:
            messages.error(request, exc.message)
            status = exc.status
    return _render(request, clinic, errors, form, status, None)


STAFF_FORMS = {
    "invite",
    "grant",
    "approve",
    "revoke",
    "deactivate",
    "reactivate",
    "reset",
    "revoke_tokens",
    "reset_two_factor",
}


def _staff_form(request: SignedInRequest, clinic: Clinic, form: str) -> str | None:
    """Run one staff-lifecycle form; returns a one-time set-password token when the form made one."""
    p, actor = request.POST, request.user
    if form == "invite":
        _, raw = staff.do_invite_user(
            actor=actor,
            clinic=clinic,
            username=p.get("username", ""),
            roles=p.getlist("roles"),
            display_name=p.get("display_name", ""),
            email=p.get("email", ""),
            request=request,
        )
        return raw
    if form == "grant":
        m = staff.do_grant_role(
            actor=actor, clinic=clinic, user_id=p.get("user_id"), role=p.get("role", ""), request=request
        )
        messages.success(
            request,
            f"{m.get_role_display()} granted to {m.user}"
            + (
                ": it takes effect once a second admin or the registrant approves it."
                if m.approval_required
                else "."
            ),
        )
    elif form == "approve":
        m = staff.do_approve_grant(
            actor=actor, clinic=clinic, membership_id=p.get("membership_id"), request=request
        )
        messages.success(request, f"{m.get_role_display()} of {m.user} approved.")
    elif form == "revoke":
        m = staff.do_revoke_role(
            actor=actor, clinic=clinic, membership_id=p.get("membership_id"), request=request
        )
        messages.success(request, f"{m.get_role_display()} of {m.user} revoked.")
    elif form == "deactivate":
        u = staff.do_deactivate_user(actor=actor, clinic=clinic, user_id=p.get("user_id"), request=request)
        messages.success(request, f"{u} deactivated: signed out everywhere, API tokens revoked.")
    elif form == "reactivate":
        u = staff.do_reactivate_user(actor=actor, clinic=clinic, user_id=p.get("user_id"), request=request)
        messages.success(request, f"{u} reactivated.")
    elif form == "reset":
        _, raw = staff.do_force_password_reset(
            actor=actor, clinic=clinic, user_id=p.get("user_id"), request=request
        )
        return raw
    elif form == "revoke_tokens":
        n = staff.do_revoke_user_tokens(actor=actor, clinic=clinic, user_id=p.get("user_id"), request=request)
        messages.success(request, f"{n} API token{'s' if n != 1 else ''} revoked.")
    elif form == "reset_two_factor":
        u = twofactor.do_reset_two_factor(
            actor=actor, clinic=clinic, user_id=p.get("user_id"), request=request
        )
        messages.success(
            request, f"Two-factor sign-in of {u} reset: they set up an authenticator at their next sign-in."
        )
    return None


def _render(
    request: SignedInRequest,
    clinic: Clinic,
    errors: dict[str, list[str]],
    form: str,
    status: int,
    one_time_link: str | None,
) -> HttpResponse:
    now = timezone.now()
    ctx = {
        "clinic": clinic,
        "sites": clinic.sites.prefetch_related("registrations"),
        "jurisdictions": JURISDICTION_CHOICES,
        "registration_kinds": Registration.Kind.choices,
        "errors": errors,
        "form": form,
        "post": request.POST,
        "today": timezone.localdate(),
        "now": now,
        "one_time_link": one_time_link,
    }
    return render(request, "clinics/settings.html", ctx, status=status)
