"""Separation of duties and the staff lifecycle: invitations, approvals, cooling-off, deactivation, resets, tokens."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.web.conftest import PASSWORD

from ketaclinic.web.accounts import staff
from ketaclinic.web.accounts.models import ApiToken, Membership, SetPasswordToken, User
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed

NEW_PW = "a-fresh-long-password-42"


@pytest.fixture
def admin2(make_user: Any) -> User:
    return make_user("clinic_admin", username="clinicadmin2")


def _invite(admin: User, clinic: Any, role: str = "custodian", username: str = "newbie") -> tuple[User, str]:
    return staff.do_invite_user(actor=admin, clinic=clinic, username=username, roles=[role])


def test_invited_custodian_cannot_act_until_a_second_admin_approves(
    admin_user: User, admin2: User, clinic: Any
) -> None:
    user, _raw = _invite(admin_user, clinic)
    assert not user.has_usable_password()
    m = Membership.objects.get(user=user)
    assert (m.approval_required, m.granted_by_id, m.approved_at) == (True, admin_user.pk, None)
    assert has_perm_in_clinic(User.objects.get(pk=user.pk), clinic, Perm.STOCK_MOVE) is False
    # The granting admin cannot approve their own grant; the grantee cannot either.
    with pytest.raises(PermissionDeniedError):
        staff.do_approve_grant(actor=admin_user, clinic=clinic, membership_id=m.pk)
    m.refresh_from_db()
    assert m.approved_at is None
    staff.do_approve_grant(actor=admin2, clinic=clinic, membership_id=m.pk)
    assert has_perm_in_clinic(User.objects.get(pk=user.pk), clinic, Perm.STOCK_MOVE) is True
    actions = list(AuditEvent.objects.filter(clinic=clinic).order_by("pk").values_list("action", flat=True))
    assert actions == ["membership.grant", "user.invite", "membership.approve"]
    with pytest.raises(ConflictError):
        staff.do_approve_grant(actor=admin2, clinic=clinic, membership_id=m.pk)


def test_the_registrant_may_approve_and_cooling_off_lets_a_grant_take_effect(
    admin_user: User, prescriber: User, clinic: Any
) -> None:
    clinic.registrant = prescriber
    clinic.save()
    user, _ = _invite(admin_user, clinic)
    m = Membership.objects.get(user=user)
    staff.do_approve_grant(actor=prescriber, clinic=clinic, membership_id=m.pk)
    assert AuditEvent.objects.get(action="membership.approve").detail["as"] == "registrant"

    clinic.grant_cooling_off_hours = 48
    clinic.save()
    late, _ = _invite(admin_user, clinic, username="late")
    lm = Membership.objects.get(user=late)
    assert lm.effective_from is not None
    assert abs((lm.effective_from - timezone.now()) - dt.timedelta(hours=48)) < dt.timedelta(minutes=1)
    assert not lm.is_effective(timezone.now())
    assert lm.is_effective(timezone.now() + dt.timedelta(hours=49))


def test_front_desk_grant_needs_no_approval(admin_user: User, clinic: Any) -> None:
    user, _ = _invite(admin_user, clinic, role="front_desk")
    assert has_perm_in_clinic(user, clinic, Perm.PATIENT_EDIT) is True


def test_invitation_link_sets_the_password_once_and_expires(admin_user: User, clinic: Any) -> None:
    user, raw = _invite(admin_user, clinic, role="front_desk")
    c = Client()
    assert c.get(f"/accounts/set-password/{raw}/").status_code == 200
    r = c.post(f"/accounts/set-password/{raw}/", {"password": NEW_PW, "password2": "different-one-9876"})
    assert r.status_code == 400 and r.context["errors"] == {"password2": ["the two passwords differ"]}
    user.refresh_from_db()
    assert not user.has_usable_password()
    r = c.post(f"/accounts/set-password/{raw}/", {"password": NEW_PW, "password2": NEW_PW})
    assert r.status_code == 302 and r["Location"] == "/accounts/login/"
    user.refresh_from_db()
    assert user.check_password(NEW_PW)
    assert (
        c.post(f"/accounts/set-password/{raw}/", {"password": NEW_PW, "password2": NEW_PW}).status_code == 404
    )
    # An expired link is refused.
    other, raw2 = _invite(admin_user, clinic, role="front_desk", username="other")
    SetPasswordToken.objects.filter(user=other).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert Client().get(f"/accounts/set-password/{raw2}/").status_code == 404
    assert AuditEvent.objects.filter(action="user.password_set").count() == 1


def test_deactivation_ends_sessions_and_tokens(
    admin_user: User, nurse: User, clinic: Any, client_as: Any
) -> None:
    nurse_client = client_as(nurse)
    token, raw = __import__("ketaclinic.web.accounts.actions", fromlist=["x"]).do_create_api_token(
        actor=nurse, name="t"
    )
    assert Client().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    staff.do_deactivate_user(actor=admin_user, clinic=clinic, user_id=nurse.pk)
    assert nurse_client.get("/patients/").status_code == 302
    assert Client().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    token.refresh_from_db()
    assert token.revoked_by_id == admin_user.pk
    assert Client().post("/accounts/login/", {"username": "nurse", "password": PASSWORD}).status_code == 400
    with pytest.raises(ValidationFailed):
        staff.do_deactivate_user(actor=admin_user, clinic=clinic, user_id=admin_user.pk)


def test_revoking_one_membership_removes_that_roles_access(
    admin_user: User, nurse: User, clinic: Any
) -> None:
    m = Membership.objects.get(user=nurse)
    staff.do_revoke_role(actor=admin_user, clinic=clinic, membership_id=m.pk)
    assert has_perm_in_clinic(User.objects.get(pk=nurse.pk), clinic, Perm.SESSION_RUN) is False
    assert AuditEvent.objects.filter(action="membership.revoke", object_id=str(m.pk)).count() == 1


def test_other_clinics_staff_are_not_found(
    admin_user: User, make_user: Any, other_clinic: Any, clinic: Any
) -> None:
    outsider = make_user("nurse", clinic=other_clinic, username="outsider")
    for fn in (staff.do_deactivate_user, staff.do_force_password_reset, staff.do_revoke_user_tokens):
        with pytest.raises(NotFoundError):
            fn(actor=admin_user, clinic=clinic, user_id=outsider.pk)
    with pytest.raises(NotFoundError):
        staff.do_deactivate_user(actor=admin_user, clinic=clinic, user_id=999999)
    outsider.refresh_from_db()
    assert outsider.is_active and outsider.has_usable_password()


def test_forced_reset_ends_the_password_and_sessions(
    admin_user: User, nurse: User, clinic: Any, client_as: Any
) -> None:
    nurse_client = client_as(nurse)
    _, raw = staff.do_force_password_reset(actor=admin_user, clinic=clinic, user_id=nurse.pk)
    assert nurse_client.get("/patients/").status_code == 302
    assert Client().post("/accounts/login/", {"username": "nurse", "password": PASSWORD}).status_code == 400
    staff.do_set_password_with_token(raw=raw, password=NEW_PW, password2=NEW_PW)
    assert Client().post("/accounts/login/", {"username": "nurse", "password": NEW_PW}).status_code == 302


def test_change_own_password_checks_the_current_one(nurse: User, client_as: Any) -> None:
    c = client_as(nurse)
    r = c.post(
        "/accounts/me/",
        {"form": "password", "current_password": "nope", "password": NEW_PW, "password2": NEW_PW},
    )
    assert r.status_code == 400 and r.context["errors"] == {"current_password": ["is not correct"]}
    nurse.refresh_from_db()
    assert nurse.check_password(PASSWORD) and nurse.failed_login_count == 1
    r = c.post(
        "/accounts/me/",
        {"form": "password", "current_password": PASSWORD, "password": NEW_PW, "password2": NEW_PW},
    )
    assert r.status_code == 302
    assert c.get("/patients/").status_code == 200  # still signed in
    nurse.refresh_from_db()
    assert nurse.check_password(NEW_PW)


def test_api_tokens_expire_after_the_clinic_lifetime(nurse: User, clinic: Any) -> None:
    from ketaclinic.web.accounts.actions import do_create_api_token

    clinic.api_token_days = 30
    clinic.save()
    token, raw = do_create_api_token(actor=nurse, name="t")
    assert token.expires_at is not None
    assert abs(token.expires_at - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert Client().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_staff_api_invite_approve_and_revoke_tokens(
    admin_user: User, admin2: User, nurse: User, clinic: Any
) -> None:
    from ketaclinic.web.accounts.actions import do_create_api_token

    a1, a2 = Client(), Client()
    a1.force_login(admin_user)
    a2.force_login(admin2)
    r = a1.post(
        "/api/v1/staff/invite",
        json.dumps({"username": "apiuser", "roles": ["nurse"]}),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["set_password_token"]
    m = Membership.objects.get(user__username="apiuser")
    r = a1.post(f"/api/v1/staff/grants/{m.pk}/approve", "{}", content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = a2.post(f"/api/v1/staff/grants/{m.pk}/approve", "{}", content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "active"
    do_create_api_token(actor=nurse, name="x")
    r = a1.post(f"/api/v1/staff/{nurse.pk}/revoke-tokens", "{}", content_type="application/json")
    assert r.json() == {"revoked": 1}
    r = a1.get("/api/v1/staff/?limit=0")
    assert r.status_code == 400 and r.json()["error"]["fields"] == {"limit": ["must be between 1 and 200"]}
    listing = a1.get("/api/v1/staff/").json()
    assert [u["username"] for u in listing] == sorted(u["username"] for u in listing)
    r = Client().post("/api/v1/staff/invite", "{}", content_type="application/json")
    assert r.status_code == 401


def test_staff_cli_invite_policy_approve_and_bad_input(
    admin_user: User, prescriber: User, clinic: Any
) -> None:
    from typer.testing import CliRunner

    from ketaclinic.cli import app

    runner = CliRunner()
    res = runner.invoke(
        app, ["staff", "invite", "carol", "--clinic", clinic.slug, "--role", "custodian", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["username"] == "carol" and out["set_password_path"].startswith("/accounts/set-password/")
    carol = User.objects.get(username="carol")
    # The operator's grants need no approval.
    assert has_perm_in_clinic(carol, clinic, Perm.STOCK_MOVE) is True
    res = runner.invoke(
        app,
        [
            "staff",
            "policy",
            "--clinic",
            clinic.slug,
            "--registrant",
            "prescriber",
            "--cooling-off-hours",
            "24",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {
        "clinic": clinic.slug,
        "registrant": "prescriber",
        "cooling_off_hours": 24,
    }
    bad = runner.invoke(app, ["staff", "policy", "--clinic", clinic.slug, "--cooling-off-hours", "99999"])
    assert bad.exit_code == 2 and "cooling_off_hours: must be between 0 and 2160 hours" in bad.stderr
    bad = runner.invoke(app, ["staff", "deactivate", "nobody", "--clinic", clinic.slug])
    assert bad.exit_code == 2 and "username: no user 'nobody'" in bad.stderr
    bad = runner.invoke(app, ["staff", "invite", "x", "--clinic", "nope", "--role", "nurse"])
    assert bad.exit_code == 2 and "--clinic: no clinic with slug 'nope'" in bad.stderr
    res = runner.invoke(app, ["staff", "deactivate", "carol", "--clinic", clinic.slug, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == {"user_id": carol.pk, "is_active": False}
    assert (
        AuditEvent.objects.filter(action="user.deactivate", actor_label="operator (command line)").count()
        == 1
    )
