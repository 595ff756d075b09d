"""URL root: each app under its own prefix, the API under /api/v1/ (/api/ leads to its documentation)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from ketaclinic.web.config.api import api
from ketaclinic.web.home.views import home as home_view


def api_index(request: HttpRequest) -> HttpResponse:
    """/api/ points to the interactive API documentation of the current version."""
    return redirect("api-v1:openapi-view")


def favicon(request: HttpRequest) -> HttpResponse:
    """The site's icon for browsers that ask for /favicon.ico."""
    return redirect(static("ketaclinic/favicon.svg"), permanent=True)


def healthz(request: HttpRequest) -> HttpResponse:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", home_view, name="home"),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (a downloaded file, a bare error): the SVG one.
    path("favicon.ico", favicon, name="favicon"),
    path("api/", api_index, name="api-index"),
    path("api/v1/", api.urls),
    path("accounts/", include("ketaclinic.web.accounts.urls")),
    path("clinic/", include("ketaclinic.web.clinics.urls")),
    path("patients/", include("ketaclinic.web.patients.urls")),
    path("audit/", include("ketaclinic.web.audit.urls")),
    path("assessments/", include("ketaclinic.web.assessments.urls")),
    path("screening/", include("ketaclinic.web.screening.urls")),
    path("treatment/", include("ketaclinic.web.treatment.urls")),
    path("monitoring/", include("ketaclinic.web.monitoring.urls")),
    path("ledger/", include("ketaclinic.web.ledger.urls")),
    path("decision/", include("ketaclinic.web.decision.urls")),
    path("telehealth/", include("ketaclinic.web.telehealth.urls")),
    path("therapy/", include("ketaclinic.web.therapy.urls")),
    path("safety/", include("ketaclinic.web.surveillance.urls")),
    path("pain/", include("ketaclinic.web.pain.urls")),
    path("outcomes/", include("ketaclinic.web.outcomes.urls")),
    path("careplan/", include("ketaclinic.web.careplan.urls")),
    path("session/", include("ketaclinic.web.patientprep.urls")),
    path("alerts/", include("ketaclinic.web.home.urls")),
]
