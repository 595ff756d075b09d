"""Sign-in hardening: lockout reserved before the password check, rate limits (429), trusted proxies, audit."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client, RequestFactory, override_settings
from tests.web.conftest import PASSWORD

from ketaclinic.web.accounts import authn
from ketaclinic.web.accounts.models import AuthThrottle, User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.audit import client_ip

TIGHT = {
    "sign_in_address": (3, 60),
    "sign_in_username": (2, 60),
    "witness_address": (3, 60),
    "witness_username": (2, 60),
}


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = User.check_password

    def counting(self: User, raw: str) -> bool:
        calls.append(self.pk)
        return real(self, raw)

    monkeypatch.setattr(User, "check_password", counting)
    return calls


def test_attempts_in_flight_use_up_the_allowance_before_any_password_check(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five attempts already reserved (in flight or failed): the sixth must not hash a password at all,
    # even the right one.
    User.objects.filter(pk=nurse.pk).update(failed_login_count=settings.KETACLINIC_LOCKOUT_THRESHOLD)
    calls = _count_checks(monkeypatch)
    outcome, user = authn.check_password(username="nurse", password=PASSWORD, request=None)
    assert (outcome, user, calls) == (authn.Outcome.LOCKED, nurse, [])
    assert AuditEvent.objects.filter(action="auth.login_refused_locked", object_id=str(nurse.pk)).count() == 1


def test_the_failure_reaching_the_threshold_locks_and_audits_the_lockout(nurse: User, clinic: Any) -> None:
    outcomes = [
        authn.check_password(username="nurse", password="wrong", request=None)[0]
        for _ in range(settings.KETACLINIC_LOCKOUT_THRESHOLD)
    ]
    assert outcomes == [authn.Outcome.BAD_PASSWORD] * 4 + [authn.Outcome.LOCKED]
    nurse.refresh_from_db()
    assert nurse.locked_until is not None and nurse.failed_login_count == 0
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert (lockout.clinic_id, lockout.object_id, lockout.detail["purpose"]) == (
        clinic.pk,
        str(nurse.pk),
        "sign_in",
    )
    # The right password is refused while locked, and no password is checked.
    assert authn.check_password(username="nurse", password=PASSWORD, request=None)[0] is authn.Outcome.LOCKED


def test_inactive_account_is_refused_without_a_password_check(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    User.objects.filter(pk=nurse.pk).update(is_active=False)
    calls = _count_checks(monkeypatch)
    assert (
        authn.check_password(username="nurse", password=PASSWORD, request=None)[0] is authn.Outcome.INACTIVE
    )
    assert calls == []
    assert AuditEvent.objects.filter(action="auth.login_refused_inactive").count() == 1


@override_settings(KETACLINIC_2FA_ENFORCE=False)  # the password step alone; 2FA: test_two_factor.py
def test_sign_in_events_are_attributed_to_the_accounts_clinic_and_visible_to_its_auditor(
    nurse: User, auditor: User, clinic: Any, client_as: Any
) -> None:
    Client().post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    Client().post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    rows = list(AuditEvent.objects.filter(action__startswith="auth.").values_list("action", "clinic_id"))
    assert sorted(rows) == [("auth.login", clinic.pk), ("auth.login_failed", clinic.pk)]
    page = client_as(auditor).get("/audit/?action=auth.login_failed")
    assert page.context["page"].paginator.count == 1


@override_settings(KETACLINIC_RATE_LIMITS=TIGHT)
def test_sign_in_rate_limited_per_address_with_retry_after(nurse: User, prescriber: User) -> None:
    c = Client(REMOTE_ADDR="198.51.100.7")
    codes = [
        c.post("/accounts/login/", {"username": name, "password": "wrong"}).status_code
        for name in ("a1", "a2", "a3")
    ]
    r = c.post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    assert codes == [400, 400, 400]
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 61
    assert b"Too many sign-in attempts; try again in" in r.content
    assert "_auth_user_id" not in c.session
    nurse.refresh_from_db()
    assert nurse.failed_login_count == 0  # refused before any password check
    # Another address is not affected.
    ok = Client(REMOTE_ADDR="198.51.100.8").post(
        "/accounts/login/", {"username": "prescriber", "password": PASSWORD}
    )
    assert ok.status_code == 302


@override_settings(KETACLINIC_RATE_LIMITS=TIGHT)
def test_sign_in_rate_limited_per_username_across_addresses(nurse: User) -> None:
    codes = [
        Client(REMOTE_ADDR=f"203.0.113.{i}")
        .post("/accounts/login/", {"username": "NURSE", "password": "x"})
        .status_code
        for i in range(1, 4)
    ]
    assert codes == [400, 400, 429]
    nurse.refresh_from_db()
    assert nurse.failed_login_count == 2
    assert AuthThrottle.objects.filter(key="sign_in_username:nurse").get().count == 3


def test_x_forwarded_for_is_only_believed_from_a_trusted_proxy() -> None:
    rf = RequestFactory()
    spoofed = rf.get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert client_ip(spoofed) == "198.51.100.9"
    with override_settings(KETACLINIC_TRUSTED_PROXIES=["10.0.0.0/8"]):
        via_proxy = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5, 10.0.0.3")
        # The left-most hop is whatever the client wrote; the right-most untrusted hop is the client.
        assert client_ip(via_proxy) == "203.0.113.5"
        assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")) == "10.0.0.2"
        assert (
            client_ip(rf.get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="1.2.3.4"))
            == "198.51.100.9"
        )


@pytest.mark.postgres
@pytest.mark.skipif(
    os.environ.get("KETACLINIC_TEST_POSTGRES") != "1", reason="needs KETACLINIC_TEST_POSTGRES=1"
)
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_make_at_most_the_thresholds_worth_of_checks(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    calls: list[int] = []
    real = User.check_password

    def slow(self: User, raw: str) -> bool:
        calls.append(self.pk)
        time.sleep(0.2)  # every attempt overlaps every other
        return real(self, raw)

    monkeypatch.setattr(User, "check_password", slow)
    n = 12
    barrier = threading.Barrier(n)
    outcomes: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[i] = authn.check_password(username="nurse", password="wrong", request=None)[0]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(calls) == settings.KETACLINIC_LOCKOUT_THRESHOLD
    assert outcomes.count(authn.Outcome.BAD_PASSWORD) == settings.KETACLINIC_LOCKOUT_THRESHOLD - 1
    assert outcomes.count(authn.Outcome.LOCKED) == n - settings.KETACLINIC_LOCKOUT_THRESHOLD + 1
    nurse.refresh_from_db()
    assert nurse.locked_until is not None


def test_api_schema_and_docs_need_sign_in_when_required(nurse: User, client_as: Any) -> None:
    from ketaclinic.web.accounts.actions import do_create_api_token

    assert Client().get("/api/v1/openapi.json").status_code == 200  # development default: open
    with override_settings(KETACLINIC_API_DOCS_REQUIRE_SIGN_IN=True):
        r = Client().get("/api/v1/openapi.json")
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
        assert Client().get("/api/v1/docs").status_code == 401
        assert client_as(nurse).get("/api/v1/openapi.json").status_code == 200
        _, raw = do_create_api_token(actor=nurse, name="docs")
        assert Client().get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
        assert Client().get("/api/v1/openapi.json", HTTP_AUTHORIZATION="Bearer kc_wrong").status_code == 401
