"""Attach the active clinic (the clinic switcher's choice, kept in the session) to each request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

SESSION_KEY = "kc_clinic_id"
REFRESH_KEY = "kc_seen"


def _clock() -> int:
    return int(time.time())


def _active_clinic(request: HttpRequest) -> object:
    from ketaclinic.web.lib.access import user_clinics

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    clinics = user_clinics(user)
    if not clinics:
        return None
    wanted = request.session.get(SESSION_KEY)
    for clinic in clinics:
        if clinic.pk == wanted:
            return clinic
    request.session[SESSION_KEY] = clinics[0].pk
    return clinics[0]


class ActiveClinicMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.clinic = SimpleLazyObject(lambda: _active_clinic(request))  # type: ignore[attr-defined]
        return self.get_response(request)


class DomainErrorMiddleware:
    """Render a DomainError that escapes a (non-API) view as an error page with its HTTP status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from ketaclinic.web.lib.errors import DomainError, RateLimitedError

        if not isinstance(exception, DomainError) or request.path.startswith("/api/"):
            return None
        response = render(request, "error.html", {"error": exception}, status=exception.status)
        if isinstance(exception, RateLimitedError):
            response["Retry-After"] = str(exception.retry_after)
        return response


class SessionIdleRefreshMiddleware:
    """Keep the idle timeout without writing the session on every request.

    The session's expiry is SESSION_COOKIE_AGE after its last save. Marking it modified at most every
    SESSION_REFRESH_EVERY_S seconds pushes the expiry forward (one write a minute per active user instead of
    one per request); a session therefore ends at most that much earlier than the idle timeout, never later.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key and session.get("_auth_user_id"):
            now = _clock()
            seen = session.get(REFRESH_KEY)
            if not isinstance(seen, int) or now - seen >= settings.SESSION_REFRESH_EVERY_S:
                session[REFRESH_KEY] = now
        return self.get_response(request)
