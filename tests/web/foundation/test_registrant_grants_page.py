"""The clinic's registrant (not an admin) approves pending role grants in the web UI, under the same rules."""

from __future__ import annotations

from typing import Any

from ketaclinic.web.accounts import staff
from ketaclinic.web.accounts.models import Membership, User
from ketaclinic.web.audit.models import AuditEvent


def _pending(admin: User, clinic: Any) -> Membership:
    user, _ = staff.do_invite_user(actor=admin, clinic=clinic, username="newbie", roles=["custodian"])
    return Membership.objects.get(user=user)


def test_the_registrant_approves_a_grant_on_the_page(
    admin_user: User, prescriber: User, clinic: Any, client_as: Any
) -> None:
    clinic.registrant = prescriber
    clinic.save()
    m = _pending(admin_user, clinic)
    c = client_as(prescriber)
    page = c.get("/clinic/grants/")
    assert page.status_code == 200
    body = page.content.decode()
    assert (
        f'data-membership="{m.pk}"' in body and "you, as the clinic's registrant, or a second admin" in body
    )
    r = c.post("/clinic/grants/", {"membership_id": m.pk})
    assert (r.status_code, r["Location"]) == (302, "/clinic/grants/")
    m.refresh_from_db()
    assert (m.approved_by_id, m.approved_at is not None) == (prescriber.pk, True)
    row = AuditEvent.objects.get(action="membership.approve")
    assert (row.actor_id, row.detail["as"], row.detail["role"]) == (prescriber.pk, "registrant", "custodian")
    assert "No role grants are waiting for approval." in c.get("/clinic/grants/").content.decode()


def test_others_cannot_use_the_page_and_the_granting_admin_cannot_approve(
    admin_user: User, prescriber: User, nurse: User, clinic: Any, client_as: Any
) -> None:
    m = _pending(admin_user, clinic)
    # Not the registrant (none is named) and not an admin: refused, nothing approved.
    assert client_as(nurse).get("/clinic/grants/").status_code == 403
    assert client_as(nurse).post("/clinic/grants/", {"membership_id": m.pk}).status_code == 403
    # The admin who made the grant sees it but has no button, and a forged post is refused.
    admin = client_as(admin_user)
    assert "someone else approves this one" in admin.get("/clinic/grants/").content.decode()
    assert admin.post("/clinic/grants/", {"membership_id": m.pk}).status_code == 403
    m.refresh_from_db()
    assert (m.approved_by_id, m.approved_at) == (None, None)
    assert not AuditEvent.objects.filter(action="membership.approve").exists()
