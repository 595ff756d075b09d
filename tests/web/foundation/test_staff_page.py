"""The staff page: paginated and searchable staff list, the lifecycle forms, errors in one summary; nav links."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.web.accounts import staff
from ketaclinic.web.accounts.models import Membership, User
from ketaclinic.web.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_staff_list_is_paginated_and_filtered(
    admin_user: User, make_user: Any, client_as: Any, clinic: Any
) -> None:
    for i in range(55):
        make_user("front_desk", username=f"desk{i:02d}")
    c = client_as(admin_user)
    resp = c.get("/clinic/staff/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert resp.context["page"].paginator.count == 56
    assert len(resp.context["staff"]) == 50
    assert "1–50 of 56 staff · page 1 of 2" in html
    resp = c.get("/clinic/staff/", {"page": "2"})
    assert [u.username for u, _ in resp.context["staff"]] == [
        "desk49",
        "desk50",
        "desk51",
        "desk52",
        "desk53",
        "desk54",
    ]
    resp = c.get("/clinic/staff/", {"q": "desk0"})
    assert resp.context["page"].paginator.count == 10
    staff.do_deactivate_user(actor=admin_user, clinic=clinic, user_id=User.objects.get(username="desk07").pk)
    resp = c.get("/clinic/staff/", {"status": "inactive"})
    assert [u.username for u, _ in resp.context["staff"]] == ["desk07"]
    assert c.get("/clinic/staff/", {"status": "asleep"}).status_code == 400
    assert c.get("/clinic/staff/", {"page": "-2"}).status_code == 400


def test_invite_errors_are_summarised_and_typed_values_kept(admin_user: User, client_as: Any) -> None:
    users, audits = User.objects.count(), AuditEvent.objects.count()
    resp = client_as(admin_user).post(
        "/clinic/staff/",
        {"form": "invite", "username": "", "display_name": "Jo Bloggs", "email": "jo@example.org"},
    )
    html = resp.content.decode()
    assert resp.status_code == 400
    assert (User.objects.count(), AuditEvent.objects.count()) == (users, audits)
    assert html.count('class="error-summary"') == 1
    assert '<a href="#id_username">Username: ' in html
    assert '<a href="#id_roles">Roles: ' in html
    assert 'value="Jo Bloggs"' in html and 'value="jo@example.org"' in html
    assert 'class="messages"' not in html


def test_a_pending_grant_is_approved_from_the_page(
    admin_user: User, make_user: Any, client_as: Any, clinic: Any
) -> None:
    admin2 = make_user("clinic_admin", username="clinicadmin2")
    newbie, _ = staff.do_invite_user(actor=admin_user, clinic=clinic, username="newbie", roles=["custodian"])
    m = Membership.objects.get(user=newbie)
    c = client_as(admin2)
    resp = c.get("/clinic/staff/", {"status": "pending"})
    html = resp.content.decode()
    assert [u.username for u, _ in resp.context["staff"]] == ["newbie"]
    assert "waiting for approval" in html
    resp = c.post("/clinic/staff/", {"form": "approve", "membership_id": m.pk})
    assert resp.status_code == 302 and resp["Location"] == "/clinic/staff/"
    m.refresh_from_db()
    assert m.approved_by_id == admin2.pk
    assert c.get("/clinic/staff/", {"status": "pending"}).context["page"].paginator.count == 0


def test_admin_nav_reaches_staff_and_protocols(admin_user: User, nurse: User, client_as: Any) -> None:
    html = client_as(admin_user).get("/clinic/staff/").content.decode()
    assert '<a href="/clinic/staff/" aria-current="page">Staff</a>' in html
    assert '<a href="/treatment/protocols/" >Protocols</a>' in html
    html = client_as(nurse).get("/patients/").content.decode()
    assert 'href="/clinic/staff/"' not in html and 'href="/treatment/protocols/"' not in html
    assert client_as(nurse).get("/clinic/staff/").status_code == 403
