"""Refuse request parameters that no field can hold before any view reads them.

A NUL character in a query parameter or a submitted form field is refused with HTTP 400 naming the parameter
(the API's JSON error shape under /api/, the error page elsewhere): PostgreSQL cannot store or compare a
string holding NUL and would otherwise fail the request with a server error, and no field of the app may hold
one. Nothing is read or written for a refused request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse

NUL = "\x00"
REASON = "contains a NUL character"


def _bad_names(items: Iterable[tuple[str, list[str]]]) -> list[str]:
    bad = []
    for name, values in items:
        if NUL in name or any(NUL in v for v in values):
            bad.append(name.replace(NUL, "\\0"))
    return bad


class NulParameterGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = _bad_names(request.GET.lists())
        content_type = request.META.get("CONTENT_TYPE", "")
        if request.method == "POST" and content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            bad += [n for n in _bad_names(request.POST.lists()) if n not in bad]
        if not bad:
            return self.get_response(request)
        fields = {name: [REASON] for name in bad}
        message = "; ".join(f"{name}: {REASON}" for name in bad)
        if request.path.startswith("/api/"):
            from ketaclinic.web.lib.middleware import _api_error

            return _api_error(400, "validation_failed", message, fields)
        from django.shortcuts import render

        from ketaclinic.web.lib.errors import ValidationFailed

        return render(request, "error.html", {"error": ValidationFailed(fields, message)}, status=400)
