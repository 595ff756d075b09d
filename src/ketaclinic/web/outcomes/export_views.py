"""Export pages: start the research extract or the FHIR Bulk Data export from the browser and follow its progress.

Thin views over the same job actions the API and the command line use (`actions.do_create_export_job`,
`exports.start_job`); files are downloaded through the API's audited file URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from ketaclinic.web.access import access_clinic_by_id, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.lib.errors import PermissionDeniedError
from ketaclinic.web.lib.pagination import paginate
from ketaclinic.web.outcomes.models import ExportJob

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic

FORMAT_WORDS = {"csv": "CSV (spreadsheet)", "parquet": "Parquet (analysis tools)"}
FILE_WORDS = {"research": "Research extract", "data_dictionary": "Data dictionary"}


def _kinds(user: Any, clinic: Clinic) -> dict[str, bool]:
    return {
        "research": has_perm_in_clinic(user, clinic, Perm.RESEARCH_VIEW),
        "fhir": has_perm_in_clinic(user, clinic, Perm.PATIENT_VIEW)
        and has_perm_in_clinic(user, clinic, Perm.OUTCOMES_VIEW),
    }


def _clinic(request: SignedInRequest) -> Any:
    clinic = clinic_for_request(request)
    if clinic is None:
        raise PermissionDeniedError("you are not a member of any clinic")
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.OUTCOMES_VIEW)
    return clinic


@login_required
@require_http_methods(["GET", "POST"])
def exports_page(request: SignedInRequest) -> HttpResponse:
    """The user's export jobs in the active clinic (newest first, paginated) and the buttons to start one."""
    from ketaclinic.web.outcomes.actions import do_create_export_job
    from ketaclinic.web.outcomes.exports import FHIR_TYPES, start_job
    from ketaclinic.web.outcomes.research import FORMATS

    clinic = _clinic(request)
    kinds = _kinds(request.user, clinic)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        fmt = request.POST.get("format", "csv")
        if kind not in ("research", "fhir"):
            errors["kind"] = ["is not one of the exports offered"]
        elif not kinds[kind]:
            raise PermissionDeniedError("your role in this clinic does not allow this export")
        elif kind == "research" and fmt not in FORMATS:
            errors["format"] = ["must be CSV or Parquet"]
        else:
            job = do_create_export_job(
                actor=request.user,
                clinic=clinic,
                kind=ExportJob.Kind.RESEARCH if kind == "research" else ExportJob.Kind.FHIR_BULK,
                params={"format": fmt} if kind == "research" else {"types": list(FHIR_TYPES), "since": None},
                request_url=request.build_absolute_uri()[:500],
            )
            start_job(job)
            return redirect("outcomes:export_status", job_id=job.pk)
    jobs = ExportJob.objects.filter(clinic=clinic, requested_by=request.user).order_by("-requested_at")
    ctx = {
        "kinds": kinds,
        "formats": list(FORMAT_WORDS.items()),
        "page": paginate(request, jobs, per_page=20),
        "errors": errors,
    }
    return render(request, "outcomes/exports.html", ctx, status=400 if errors else 200)


@login_required
@require_http_methods(["GET"])
def export_status_page(request: SignedInRequest, job_id: str) -> HttpResponse:
    """One job: its state in words, a progress bar while it runs (the page refreshes itself), then its files."""
    clinic = _clinic(request)
    job = ExportJob.objects.filter(pk=job_id, clinic=clinic, requested_by=request.user).first()
    if job is None:
        raise Http404("no such export")
    running = job.status in (ExportJob.Status.ACCEPTED, ExportJob.Status.RUNNING)
    files = []
    if job.status == ExportJob.Status.COMPLETE:
        for o in job.output:
            url = reverse("api-v1:outcomes_export_file", kwargs={"job_id": job.pk, "name": o["file"]})
            words = FILE_WORDS.get(o["type"], o["type"])
            files.append({"words": words, "url": url, "count": o["count"], "name": o["file"]})
    return render(request, "outcomes/export_status.html", {"job": job, "running": running, "files": files})
