"""Attach the active clinic (the clinic switcher's choice, kept in the session) to each request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

SESSION_KEY = "kc_clinic_id"
REFRESH_KEY = "kc_seen"
#: [clinic id, zone name, expiry epoch]: the active clinic's zone, re-read from its sites every TZ_CACHE_S.
TZ_KEY = "kc_tz"
TZ_CACHE_S = 300


def _clock() -> int:
    return int(time.time())


def _active_clinic(request: HttpRequest) -> object:
    from ketaclinic.web.access import user_clinics

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


def _zone_name(request: HttpRequest) -> str | None:
    from ketaclinic.web.lib.timezones import zone_name_of_clinic

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    session = request.session
    cached = session.get(TZ_KEY)
    now = _clock()
    if (
        isinstance(cached, list)
        and len(cached) == 3
        and cached[0] == session.get(SESSION_KEY)
        and cached[0] is not None
        and isinstance(cached[2], int)
        and now < cached[2]
    ):
        return str(cached[1])
    clinic = request.clinic  # type: ignore[attr-defined]
    if not clinic:
        return None
    name = zone_name_of_clinic(clinic)
    session[TZ_KEY] = [clinic.pk, name, now + TZ_CACHE_S]
    return name


class SiteTimeZoneMiddleware:
    """Show every time in the active clinic's zone: templates' |date and localtime() follow it.

    Runs after ActiveClinicMiddleware. The zone is kept in the session for a few minutes so that a page costs
    no query for it; switching clinic changes it at once. Anonymous pages keep the server's TIME_ZONE (a view
    about one patient's link may override it with that clinic's zone).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.utils import timezone

        from ketaclinic.web.lib.timezones import zone_or_default

        name = _zone_name(request)
        if name is None:
            return self.get_response(request)
        with timezone.override(zone_or_default(name)):
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
        from ketaclinic.web.lib.errors import PermissionDeniedError

        if isinstance(exception, PermissionDeniedError):
            from ketaclinic.web.lib.audit import record_denied

            record_denied(request, exception)
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


def _api_error(status: int, code: str, message: str, fields: dict[str, list[str]]) -> HttpResponse:
    from django.http import JsonResponse

    return JsonResponse({"error": {"code": code, "message": message, "fields": fields}}, status=status)


class ApiBodyGuardMiddleware:
    """Limit API request bodies before any view parses them: size (413) and JSON nesting depth (400), in the
    API's JSON error shape. The FHIR intake import checks its own (deeper) limit after its access check."""

    DEFERRED = ("/api/v1/screening/patients/",)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            refused = self._check(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        from django.conf import settings
        from django.core.exceptions import RequestDataTooBig

        from ketaclinic.core.jsonlimits import check_json

        limit = int(settings.KETACLINIC_MAX_BODY_BYTES)
        too_big = _api_error(
            413,
            "body_too_large",
            f"body: larger than {limit} bytes",
            {"body": [f"larger than {limit} bytes"]},
        )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return too_big
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type and "json" not in content_type:
            return None
        if request.path.startswith(self.DEFERRED) and request.path.endswith("/import"):
            return None
        try:
            body = request.body
        except RequestDataTooBig:
            return too_big
        problem = check_json(body, max_bytes=limit, max_depth=int(settings.KETACLINIC_MAX_JSON_DEPTH))
        if problem is None:
            return None
        if problem.startswith("is larger"):
            return too_big
        return _api_error(400, "validation_failed", f"body: {problem}", {"body": [problem]})


class HeadAsGetMiddleware:
    """HEAD works wherever GET does: the request is served as a GET and the body dropped (headers kept)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "HEAD":
            return self.get_response(request)
        request.method = "GET"
        response = self.get_response(request)
        request.method = "HEAD"
        if getattr(response, "streaming", False):
            response.streaming_content = []  # type: ignore[attr-defined]
        else:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response
