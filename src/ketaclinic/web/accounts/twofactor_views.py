"""The second step of sign-in: enrol an authenticator app (QR code and secret) or give a current code."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from ketaclinic.web.accounts import actions, twofactor
from ketaclinic.web.accounts.models import User
from ketaclinic.web.lib.errors import DomainError, RateLimitedError, ValidationFailed

PENDING_KEY = "kc_2fa_pending"
#: The password step is good for this long; then the person starts again.
PENDING_S = 300


def demo_mode_notice() -> bool:
    """The sign-in page says the demo accounts are exempt (only when they are, and the demo clinic exists)."""
    if not settings.KETACLINIC_2FA_DEMO_EXEMPT:
        return False
    from ketaclinic.web.clinics.models import Clinic

    return Clinic.objects.filter(is_synthetic=True).exists()


def start_second_step(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "uid": user.pk,
        "at": int(time.time()),
        "backend": getattr(user, "backend", "ketaclinic.web.accounts.backends.LockoutModelBackend"),
        "next": next_url,
    }
    return redirect("accounts:two_factor")


def _pending_user(request: HttpRequest) -> tuple[User | None, dict[str, Any]]:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("at", 0)) > PENDING_S:
        return None, {}
    uid = pending.get("uid")
    user = None if uid is None else User.objects.filter(pk=uid, is_active=True).first()
    return user, pending


def _finish(request: HttpRequest, user: User, pending: dict[str, Any]) -> str:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=pending["backend"])
    actions.do_record_sign_in(user=user, request=request)
    next_url = str(pending.get("next") or "")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        return next_url
    return "/"


@require_http_methods(["GET", "HEAD", "POST"])
def second_step(request: HttpRequest) -> HttpResponse:
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, "Sign in again: the sign-in was not finished in time.")
        return redirect("accounts:login")
    enrolled = twofactor.confirmed_device(user) is not None
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        code = str(request.POST.get("code", ""))
        try:
            if enrolled:
                used = twofactor.verify_second_factor(user=user, code=code, request=request)
                target = _finish(request, user, pending)
                if used == "recovery":
                    left = twofactor.recovery_codes_left(user)
                    messages.warning(
                        request,
                        f"You signed in with a recovery code; {left} unused recovery codes are left. "
                        "Ask a clinic admin to reset your two-factor sign-in if you lost your authenticator.",
                    )
                return redirect(target)
            codes = twofactor.do_confirm_enrolment(user=user, code=code, request=request)
            target = _finish(request, user, pending)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": target})
        except RateLimitedError as exc:
            response = _page(request, user, enrolled, {"code": [exc.message]}, 429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
        except DomainError as exc:
            errors, status = {"code": [exc.message]}, exc.status
    return _page(request, user, enrolled, errors, status)


def _page(
    request: HttpRequest, user: User, enrolled: bool, errors: dict[str, list[str]], status: int
) -> HttpResponse:
    ctx: dict[str, Any] = {"account": user, "enrolled": enrolled, "errors": errors}
    if not enrolled:
        enrolment = twofactor.begin_enrolment(user)
        ctx["secret"] = " ".join(enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4))
        ctx["qr_svg"] = mark_safe(enrolment.qr_svg)  # noqa: S308 - segno's SVG of our own otpauth URI
    return render(request, "accounts/two_factor.html", ctx, status=status)
