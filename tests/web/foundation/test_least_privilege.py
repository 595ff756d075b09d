"""Least privilege on reads: front desk and clinic admins do not get the clinical chart tabs, banners, boards or
the REMS page unless their clinic grants clinical reads; clinical pages (boards, REMS, device lists, ledger) and
denied attempts are audited; another clinic's object and a missing one answer the same 404."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Site


@pytest.mark.parametrize("role_fixture", ["front_desk", "admin_user"])
def test_non_clinical_roles_read_demographics_but_not_clinical_data(
    role_fixture: str, request: Any, patient: Any, client_as: Any
) -> None:
    c = client_as(request.getfixturevalue(role_fixture))
    chart = c.get(f"/patients/{patient.pk}/")
    assert chart.status_code == 200
    assert [t["slug"] for t in chart.context["tabs"]] == ["overview", "history"]
    assert chart.context["banners"] == [] and list(chart.context["weights"]) == []
    assert c.get(f"/api/v1/patients/{patient.pk}").status_code == 200
    for url in ("/treatment/", "/treatment/rems/"):
        assert (url, c.get(url).status_code) == (url, 403)


def test_the_clinic_may_grant_front_desk_clinical_reads(
    front_desk: Any, patient: Any, clinic: Any, client_as: Any
) -> None:
    clinic.clinical_read_roles = "front_desk"
    clinic.save()
    c = client_as(front_desk)
    assert c.get("/treatment/rems/").status_code == 200
    assert "screening" in [t["slug"] for t in c.get(f"/patients/{patient.pk}/").context["tabs"]]


def test_clinical_roles_keep_their_reads(nurse: Any, auditor: Any, patient: Any, client_as: Any) -> None:
    for user in (nurse, auditor):
        chart = client_as(user).get(f"/patients/{patient.pk}/")
        assert "screening" in [t["slug"] for t in chart.context["tabs"]]
        assert client_as(user).get("/treatment/rems/").status_code == 200


def test_rems_page_needs_clinical_reads_and_is_audited(
    nurse: Any, site: Any, clinic: Any, client_as: Any
) -> None:
    assert client_as(nurse).get("/treatment/rems/").status_code == 200
    row = AuditEvent.objects.get(action="rems.dashboard.view")
    assert (row.clinic_id, row.actor_id, row.detail) == (clinic.pk, nurse.pk, {"forms": []})


def test_device_list_is_for_device_managers_and_audited(
    admin_user: Any, prescriber: Any, site: Any, client_as: Any
) -> None:
    assert client_as(admin_user).get(f"/monitoring/sites/{site.pk}/devices/").status_code == 200
    assert client_as(admin_user).get(f"/api/v1/monitoring/sites/{site.pk}/devices").status_code == 200
    assert AuditEvent.objects.filter(action="monitoring.devices.view", clinic=site.clinic).count() == 2
    # The clinic admin manages devices but does not watch patients on the board.
    assert client_as(admin_user).get(f"/monitoring/sites/{site.pk}/board/").status_code == 403
    assert client_as(prescriber).get(f"/api/v1/monitoring/sites/{site.pk}/board").status_code == 200
    assert AuditEvent.objects.filter(action="monitoring.board.view").count() == 1


def test_other_clinics_objects_and_missing_ones_answer_the_same_404(
    nurse: Any, other_clinic: Any, client_as: Any
) -> None:
    far = Site.objects.create(clinic=other_clinic, name="Far", jurisdiction="US-CA")
    c = client_as(nurse)
    for existing, missing in (
        (f"/api/v1/monitoring/sites/{far.pk}/board", "/api/v1/monitoring/sites/999999/board"),
        (f"/api/v1/monitoring/sites/{far.pk}/alerts", "/api/v1/monitoring/sites/999999/alerts"),
    ):
        a, b = c.get(existing), c.get(missing)
        assert (a.status_code, b.status_code) == (404, 404)
        assert a.json()["error"]["code"] == b.json()["error"]["code"] == "not_found"


def test_denied_attempts_are_audited(front_desk: Any, patient: Any, clinic: Any, client_as: Any) -> None:
    c = client_as(front_desk)
    assert c.get("/treatment/rems/").status_code == 403
    assert c.get(f"/api/v1/ledger/clinics/{clinic.pk}/verify").status_code == 403
    assert c.get("/ledger/").status_code == 403
    rows = list(
        AuditEvent.objects.filter(action="access.denied")
        .order_by("pk")
        .values_list("actor_id", "clinic_id", "request_path")
    )
    assert rows == [
        (front_desk.pk, clinic.pk, "/treatment/rems/"),
        (front_desk.pk, clinic.pk, f"/api/v1/ledger/clinics/{clinic.pk}/verify"),
        (front_desk.pk, clinic.pk, "/ledger/"),
    ]


def test_ledger_pages_are_audited(auditor: Any, clinic: Any, client_as: Any) -> None:
    c = client_as(auditor)
    assert c.get("/ledger/").status_code == 200 and c.get("/ledger/entries/").status_code == 200
    assert list(
        AuditEvent.objects.filter(action__in=["ledger.dashboard.view", "ledger.entries.view"])
        .values_list("action", flat=True)
        .order_by("pk")
    ) == [
        "ledger.dashboard.view",
        "ledger.entries.view",
    ]
