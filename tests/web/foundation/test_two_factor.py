"""Two-factor sign-in (TOTP, RFC 6238) with single-use recovery codes, on a fixed clock."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pyotp
import pytest
from django.test import Client, override_settings
from tests.web.conftest import PASSWORD

from ketaclinic.web.accounts import twofactor
from ketaclinic.web.accounts.models import RecoveryCode, TotpDevice, User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.errors import PermissionDeniedError

NOW = dt.datetime(2026, 12, 2, 10, 0, 5, tzinfo=dt.UTC)  # 5 s into a 30-second step
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    now = [NOW]
    monkeypatch.setattr(twofactor, "_now", lambda: now[0])
    return now


def _code(at: dt.datetime, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(at)


def _enrolled(user: User, last_step: int = 0) -> TotpDevice:
    return TotpDevice.objects.create(user=user, secret=SECRET, confirmed_at=NOW, last_step=last_step)


def _password_step(username: str, client: Client | None = None) -> Client:
    c = client or Client()
    r = c.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert (r.status_code, r["Location"]) == (302, "/accounts/two-factor/")
    assert "_auth_user_id" not in c.session  # not signed in until the second step
    return c


def _actions() -> list[str]:
    return list(
        AuditEvent.objects.filter(action__startswith="auth.").order_by("pk").values_list("action", flat=True)
    )


def test_a_nurse_must_enrol_with_a_qr_code_and_gets_ten_hashed_recovery_codes(
    nurse: User, clock: Any
) -> None:
    c = _password_step("nurse")
    page = c.get("/accounts/two-factor/")
    body = page.content.decode()
    assert page.status_code == 200
    assert '<svg width="' in body and 'class="qr"' in body  # drawn here, as SVG (no image service)
    device = TotpDevice.objects.get(user=nurse)
    assert device.confirmed_at is None
    shown = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', body)
    assert shown is not None and shown.group(1).replace(" ", "") == device.secret
    # A wrong code: nothing confirmed, no recovery codes, not signed in.
    wrong = c.post(
        "/accounts/two-factor/", {"code": "000000" if _code(NOW, device.secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 400
    assert b"that code is not the one your authenticator app shows now" in wrong.content
    assert (TotpDevice.objects.get(user=nurse).confirmed_at, RecoveryCode.objects.count()) == (None, 0)
    assert "_auth_user_id" not in c.session
    ok = c.post("/accounts/two-factor/", {"code": _code(NOW, device.secret)})
    assert ok.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", ok.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert c.session["_auth_user_id"] == str(nurse.pk)
    device.refresh_from_db()
    assert device.confirmed_at == NOW and device.last_step == int(NOW.timestamp()) // 30
    stored = set(RecoveryCode.objects.filter(user=nurse).values_list("digest", flat=True))
    assert len(stored) == 10 and not stored & {c.replace("-", "") for c in codes}  # only hashes are kept
    assert _actions() == ["auth.2fa_enrolled", "auth.login"]


def test_a_code_signs_in_once_and_its_replay_is_refused(nurse: User, clock: Any) -> None:
    _enrolled(nurse)
    c = _password_step("nurse")
    r = c.post("/accounts/two-factor/", {"code": _code(NOW)})
    assert (r.status_code, r["Location"]) == (302, "/")
    assert c.session["_auth_user_id"] == str(nurse.pk)
    # The same code again within its 30 seconds (a replay): refused, not signed in.
    clock[0] = NOW + dt.timedelta(seconds=20)
    other = _password_step("nurse")
    replay = other.post("/accounts/two-factor/", {"code": _code(NOW)})
    assert replay.status_code == 400
    assert b"that code has been used already; wait for the next one" in replay.content
    assert "_auth_user_id" not in other.session
    # The next step's code works.
    clock[0] = NOW + dt.timedelta(seconds=30)
    assert other.post("/accounts/two-factor/", {"code": _code(clock[0])}).status_code == 302
    assert other.session["_auth_user_id"] == str(nurse.pk)
    assert _actions() == ["auth.2fa_ok", "auth.login", "auth.2fa_replay_refused", "auth.2fa_ok", "auth.login"]
    nurse.refresh_from_db()
    assert nurse.failed_login_count == 0


def test_a_recovery_code_works_once(nurse: User, clock: Any) -> None:
    device = _enrolled(nurse)
    codes = twofactor._new_recovery_codes(nurse)
    c = _password_step("nurse")
    assert c.post("/accounts/two-factor/", {"code": codes[3].upper()}).status_code == 302
    assert c.session["_auth_user_id"] == str(nurse.pk)
    assert twofactor.recovery_codes_left(nurse) == 9
    again = _password_step("nurse")
    r = again.post("/accounts/two-factor/", {"code": codes[3]})
    assert r.status_code == 400 and b"that code is not correct" in r.content
    assert "_auth_user_id" not in again.session
    assert twofactor.recovery_codes_left(nurse) == 9
    device.refresh_from_db()
    assert device.last_step == 0  # a recovery code does not move the authenticator's step
    used = AuditEvent.objects.get(action="auth.2fa_recovery_used")
    assert used.detail["recovery_codes_left"] == 9


@override_settings(KETACLINIC_LOCKOUT_THRESHOLD=3)
def test_wrong_codes_count_toward_the_lockout(nurse: User, clock: Any) -> None:
    _enrolled(nurse)
    c = _password_step("nurse")
    statuses = [c.post("/accounts/two-factor/", {"code": "12345x"}).status_code for _ in range(2)]
    locked = c.post("/accounts/two-factor/", {"code": "999999" if _code(NOW) != "999999" else "888888"})
    assert statuses == [400, 400] and locked.status_code == 400
    assert b"the account is locked after repeated failed attempts" in locked.content
    nurse.refresh_from_db()
    assert nurse.locked_until is not None
    # Locked: even the right code is refused, and the account stays signed out.
    refused = c.post("/accounts/two-factor/", {"code": _code(NOW)})
    assert refused.status_code == 400 and "_auth_user_id" not in c.session
    assert _actions().count("auth.lockout") == 1 and _actions()[-1] == "auth.2fa_refused_locked"


@override_settings(
    KETACLINIC_RATE_LIMITS={
        "sign_in_address": (30, 60),
        "sign_in_username": (30, 60),
        "second_factor_address": (30, 60),
        "second_factor_username": (2, 60),
    }
)
def test_codes_are_rate_limited_with_retry_after(nurse: User, clock: Any) -> None:
    _enrolled(nurse)
    c = _password_step("nurse")
    first = [c.post("/accounts/two-factor/", {"code": "000001"}).status_code for _ in range(2)]
    r = c.post("/accounts/two-factor/", {"code": _code(NOW)})
    assert first == [400, 400]
    assert r.status_code == 429 and 1 <= int(r["Retry-After"]) <= 61
    assert b"too many two-factor code attempts" in r.content.lower()
    assert "_auth_user_id" not in c.session
    nurse.refresh_from_db()
    assert nurse.failed_login_count == 2  # the refused attempt checked nothing


def test_front_desk_signs_in_with_a_password_unless_the_clinic_requires_2fa_for_all(
    front_desk: User, clinic: Clinic, clock: Any
) -> None:
    c = Client()
    r = c.post("/accounts/login/", {"username": "frontdesk", "password": PASSWORD})
    assert (r.status_code, r["Location"]) == (302, "/")
    clinic.require_two_factor_for_all = True
    clinic.save(update_fields=["require_two_factor_for_all"])
    _password_step("frontdesk")


def test_every_role_that_handles_controlled_stock_or_administers_needs_it(make_user: Any) -> None:
    needs = {
        r: twofactor.needs_second_factor(make_user(r))
        for r in (
            "prescriber",
            "nurse",
            "custodian",
            "clinic_admin",
            "front_desk",
            "auditor",
            "therapist",
            "researcher",
        )
    }
    assert needs == {
        "prescriber": True,
        "nurse": True,
        "custodian": True,
        "clinic_admin": True,
        "front_desk": False,
        "auditor": False,
        "therapist": False,
        "researcher": False,
    }


def test_demo_accounts_are_exempt_outside_production_and_the_sign_in_page_says_so(
    make_user: Any, db: Any
) -> None:
    demo = Clinic.objects.create(name="Demo", slug="demo", is_synthetic=True)
    nurse = make_user("nurse", clinic=demo, username="demo.nurse")
    page = Client().get("/accounts/login/").content.decode()
    assert "Demo mode: the synthetic demo accounts sign in without a second factor." in page
    r = Client().post("/accounts/login/", {"username": "demo.nurse", "password": PASSWORD})
    assert (r.status_code, r["Location"]) == (302, "/")
    with override_settings(KETACLINIC_2FA_DEMO_EXEMPT=False):
        assert twofactor.needs_second_factor(nurse) is True
        assert "Demo mode" not in Client().get("/accounts/login/").content.decode()


def test_the_second_step_expires(nurse: User, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ketaclinic.web.accounts.twofactor_views as views

    _enrolled(nurse)
    c = _password_step("nurse")
    real = views.time.time()
    monkeypatch.setattr(views.time, "time", lambda: real + 301)
    r = c.post("/accounts/two-factor/", {"code": _code(NOW)})
    assert (r.status_code, r["Location"]) == (302, "/accounts/login/")
    assert "_auth_user_id" not in c.session
    assert TotpDevice.objects.get(user=nurse).last_step == 0


def test_an_admin_resets_another_persons_2fa_but_not_their_own(
    nurse: User, admin_user: User, clinic: Clinic, clock: Any
) -> None:
    _enrolled(nurse)
    twofactor._new_recovery_codes(nurse)
    _enrolled(admin_user)
    with pytest.raises(PermissionDeniedError, match="you cannot reset your own two-factor sign-in"):
        twofactor.do_reset_two_factor(actor=admin_user, clinic=clinic, user_id=admin_user.pk)
    assert TotpDevice.objects.filter(user=admin_user).count() == 1
    assert not AuditEvent.objects.filter(action="auth.2fa_reset").exists()
    twofactor.do_reset_two_factor(actor=admin_user, clinic=clinic, user_id=nurse.pk)
    assert (
        TotpDevice.objects.filter(user=nurse).count(),
        RecoveryCode.objects.filter(user=nurse).count(),
    ) == (0, 0)
    row = AuditEvent.objects.get(action="auth.2fa_reset")
    assert (row.actor_id, row.clinic_id, row.detail["username"], row.detail["had_authenticator"]) == (
        admin_user.pk,
        clinic.pk,
        "nurse",
        True,
    )
    # The nurse enrols again at the next sign-in.
    c = _password_step("nurse")
    assert b"Set up two-factor sign-in" in c.get("/accounts/two-factor/").content


def test_a_non_admin_cannot_reset(nurse: User, prescriber: User, clinic: Clinic) -> None:
    _enrolled(nurse)
    with pytest.raises(PermissionDeniedError):
        twofactor.do_reset_two_factor(actor=prescriber, clinic=clinic, user_id=nurse.pk)
    assert TotpDevice.objects.filter(user=nurse).count() == 1


def test_api_tokens_are_unaffected(nurse: User) -> None:
    from ketaclinic.web.accounts.actions import do_create_api_token

    _enrolled(nurse)
    _, raw = do_create_api_token(actor=nurse, name="script")
    assert Client().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_the_staff_page_resets_2fa_and_the_settings_page_sets_the_clinic_policy(
    nurse: User, admin_user: User, clinic: Clinic, client_as: Any
) -> None:
    _enrolled(nurse)
    c = client_as(admin_user)
    page = c.get("/clinic/staff/").content.decode()
    assert page.count('value="reset_two_factor"') == 1  # the nurse's row only: never the admin's own
    r = c.post("/clinic/staff/", {"form": "reset_two_factor", "user_id": nurse.pk})
    assert r.status_code == 302 and not TotpDevice.objects.filter(user=nurse).exists()
    own = c.post("/clinic/staff/", {"form": "reset_two_factor", "user_id": admin_user.pk})
    assert own.status_code == 403
    assert AuditEvent.objects.filter(action="auth.2fa_reset").count() == 1
    assert (
        c.post(
            "/clinic/settings/", {"form": "two_factor_policy", "require_two_factor_for_all": "on"}
        ).status_code
        == 302
    )
    clinic.refresh_from_db()
    assert clinic.require_two_factor_for_all is True
    row = AuditEvent.objects.get(action="clinic.two_factor_policy")
    assert row.detail == {"require_two_factor_for_all": True}


def test_the_operator_resets_2fa_from_the_command_line(nurse: User, clinic: Clinic) -> None:
    from typer.testing import CliRunner

    from ketaclinic.cli import app

    _enrolled(nurse)
    out = CliRunner().invoke(app, ["staff", "reset-2fa", "nurse", "--clinic", clinic.slug, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"user_id": nurse.pk, "reset": True}
    assert AuditEvent.objects.get(action="auth.2fa_reset").detail["had_authenticator"] is True
    assert not TotpDevice.objects.filter(user=nurse).exists()
