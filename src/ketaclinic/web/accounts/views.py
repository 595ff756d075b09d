"""Sign-in (with lockout), sign-out, the clinic switcher and the account page (API tokens)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from ketaclinic.web.access import user_clinic_ids
from ketaclinic.web.accounts import actions, staff, twofactor
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.throttle import check_auth_rate
from ketaclinic.web.accounts.twofactor_views import demo_mode_notice, start_second_step
from ketaclinic.web.lib.audit import client_ip
from ketaclinic.web.lib.errors import DomainError, RateLimitedError, ValidationFailed
from ketaclinic.web.lib.middleware import SESSION_KEY

LOCKED_MESSAGE = "This account is temporarily locked after repeated failed sign-ins. Try again later or ask a clinic admin."


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = AuthenticationForm(request, data=request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST":
        try:
            check_auth_rate(
                kind="sign_in", address=client_ip(request), username=str(request.POST.get("username", ""))
            )
        except RateLimitedError as exc:
            response = render(
                request,
                "accounts/login.html",
                {"form": AuthenticationForm(request), "next": next_url, "rate_limited": exc.message},
                status=429,
            )
            response["Retry-After"] = str(exc.retry_after)
            return response
        if form.is_valid():
            user = form.get_user()
            if twofactor.needs_second_factor(user):
                # The password was right; the session signs in only after the second step (enrol or code).
                return start_second_step(request, user, next_url)
            login(request, user)
            actions.do_record_sign_in(user=user, request=request)
            if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
                return redirect(next_url)
            return redirect("home")
        if getattr(request, "kc_lockout", False):
            form.errors.clear()
            form.add_error(None, LOCKED_MESSAGE)
    status = 200 if request.method == "GET" or form.is_valid() else 400
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": next_url, "demo_exempt": demo_mode_notice()},
        status=status,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        actions.do_record_sign_out(user=request.user, request=request)
    logout(request)
    return redirect("accounts:login")


@login_required
@require_POST
def switch_clinic(request: SignedInRequest) -> HttpResponse:
    raw = request.POST.get("clinic", "")
    if raw.isdigit() and int(raw) in user_clinic_ids(request.user):
        request.session[SESSION_KEY] = int(raw)
    else:
        messages.error(request, "clinic: you are not a member of that clinic")
    return redirect("home")


@login_required
def account(request: SignedInRequest) -> HttpResponse:
    new_token = None
    errors: dict[str, list[str]] = {}
    status = 200
    retry_after: int | None = None
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                actions.do_revoke_api_token(actor=request.user, token_id=int(request.POST["revoke"]))
                messages.success(request, "Token revoked.")
            elif request.POST.get("form") == "password":
                staff.do_change_own_password(
                    actor=request.user,
                    current=request.POST.get("current_password", ""),
                    password=request.POST.get("password", ""),
                    password2=request.POST.get("password2", ""),
                    request=request,
                )
                update_session_auth_hash(request, request.user)
                messages.success(request, "Password changed.")
                return redirect("accounts:account")
            else:
                _, new_token = actions.do_create_api_token(
                    actor=request.user,
                    name=request.POST.get("name", ""),
                    request=request,
                )
        except ValidationFailed as exc:
            errors, status = exc.fields, 400  # shown once: the error summary and the fields
        except DomainError as exc:
            messages.error(request, exc.message)
            status = exc.status
            retry_after = getattr(exc, "retry_after", None)
        except ValueError:
            messages.error(request, "revoke: not a token id")
            status = 400
    tokens = request.user.api_tokens.order_by("-created_at")
    response = render(
        request,
        "accounts/account.html",
        {
            "tokens": tokens,
            "new_token": new_token,
            "errors": errors,
            "labels": {
                "name": "New token name",
                "current_password": "Current password",
                "password": "New password",
                "password2": "New password again",
            },
            "now": timezone.now(),
        },
        status=status,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def set_password(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time link of an invitation or a forced reset: the person chooses their own password."""
    row = staff.set_password_token_user(token)
    if row is None:
        return render(request, "accounts/set_password.html", {"invalid": True}, status=404)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            staff.do_set_password_with_token(
                raw=token,
                password=request.POST.get("password", ""),
                password2=request.POST.get("password2", ""),
                request=request,
            )
        except ValidationFailed as exc:
            errors = exc.fields
        except DomainError:
            return render(request, "accounts/set_password.html", {"invalid": True}, status=404)
        else:
            if request.user.is_authenticated:
                logout(request)
            messages.success(request, "Password set. Sign in with your new password.")
            return redirect("accounts:login")
    return render(
        request,
        "accounts/set_password.html",
        {"account": row.user, "purpose": row.get_purpose_display(), "errors": errors},
        status=400 if errors else 200,
    )
