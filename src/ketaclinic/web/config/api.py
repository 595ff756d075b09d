"""The /api/v1 root: authentication (session or bearer token), one error shape for every 4xx, app routers."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from ketaclinic.web.lib.errors import DomainError, RateLimitedError


class SessionAuth(APIKeyCookie):
    """Signed-in browser session; CSRF is enforced on unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


class TokenAuth(HttpBearer):
    """`Authorization: Bearer kc_...` with a token made by `ketaclinic createtoken` or the account page."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from ketaclinic.web.accounts.models import ApiToken

        row = (
            ApiToken.objects.select_related("user")
            .filter(digest=ApiToken.digest_of(token), revoked_at__isnull=True, user__is_active=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .first()
        )
        if row is None:
            return None
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        return row.user


def _docs_sign_in(view: Any) -> Any:
    """The schema and the docs page need a signed-in user (session or bearer token) when
    KETACLINIC_API_DOCS_REQUIRE_SIGN_IN is on (the default in production)."""
    from functools import wraps

    from django.conf import settings
    from django.http import JsonResponse

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if getattr(settings, "KETACLINIC_API_DOCS_REQUIRE_SIGN_IN", False):
            user = getattr(request, "user", None)
            signed_in = user is not None and user.is_authenticated and user.is_active
            header = request.headers.get("Authorization", "")
            if not signed_in and not (
                header.startswith("Bearer ") and TokenAuth().authenticate(request, header[7:].strip())
            ):
                return JsonResponse(
                    {
                        "error": {
                            "code": "not_authenticated",
                            "message": "sign in or send a valid bearer token",
                            "fields": {},
                        }
                    },
                    status=401,
                )
        return view(request, *args, **kwargs)

    return wrapped


api = NinjaAPI(
    title="ketaclinic API",
    version="1",
    description="Supervised ketamine therapy: patients, assessments, screening, sessions, ledger.",
    urls_namespace="api-v1",
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    docs_url="/docs",
    docs_decorator=_docs_sign_in,
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, fields: dict[str, list[str]]
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, "fields": fields}}, status=status
    )


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    from ketaclinic.web.lib.errors import PermissionDeniedError

    if isinstance(exc, PermissionDeniedError):
        from ketaclinic.web.lib.audit import record_denied

        record_denied(request, exc)
    response = error_response(request, exc.status, exc.code, exc.message, exc.fields)
    if isinstance(exc, RateLimitedError):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload", "form")]
        fields.setdefault(".".join(loc) or "__all__", []).append(str(err.get("msg", "invalid")))
    message = "; ".join(f"{k}: {v[0]}" for k, v in fields.items())
    return error_response(request, 400, "validation_failed", message, fields)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "not_authenticated", "sign in or send a valid bearer token", {})


@api.exception_handler(AuthorizationError)
def _authz_error(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return error_response(request, 403, "permission_denied", str(exc) or "forbidden", {})


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", str(exc) or "not found", {})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, "http_error", str(exc), {})


def _mount() -> None:
    from ketaclinic.web.accounts.api import router as staff
    from ketaclinic.web.assessments.api import router as assessments
    from ketaclinic.web.ledger.api import router as ledger
    from ketaclinic.web.monitoring.api import router as monitoring
    from ketaclinic.web.outcomes.api import router as outcomes
    from ketaclinic.web.patients.api import router as patients
    from ketaclinic.web.screening.api import router as screening
    from ketaclinic.web.surveillance.api import router as surveillance
    from ketaclinic.web.treatment.api import router as treatment

    api.add_router("/patients/", patients)
    api.add_router("/assessments/", assessments)
    api.add_router("/screening/", screening)
    api.add_router("/treatment/", treatment)
    api.add_router("/monitoring/", monitoring)
    api.add_router("/ledger/", ledger)
    api.add_router("/surveillance/", surveillance)
    api.add_router("/outcomes/", outcomes)
    api.add_router("/staff/", staff)


_mount()
