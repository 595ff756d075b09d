"""Audit trail is append-only and auditor-only; sign-in lockout, sign-out, clinic switching, roles."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError, transaction
from django.test import Client, override_settings
from django.utils import timezone
from tests.web.conftest import PASSWORD

from ketaclinic.web.accounts.models import User
from ketaclinic.web.accounts.roles import Perm, Role, has_perm_in_clinic
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.patients.models import PatientVersion

pytestmark = pytest.mark.django_db


def test_audit_rows_cannot_be_updated_or_deleted(nurse: Any, patient: Any) -> None:
    with transaction.atomic():
        event = record_audit(actor=nurse, action="patient.view", obj=patient)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "patient.view"


def test_patient_versions_are_insert_only(nurse: Any, patient: Any) -> None:
    from ketaclinic.web.patients.actions import do_update_patient

    do_update_patient(actor=nurse, patient_id=patient.pk, values={"phone": "1"})
    with pytest.raises(DatabaseError), transaction.atomic():
        PatientVersion.objects.update(changed_fields=[])
    assert PatientVersion.objects.get().changed_fields == ["phone"]


def test_only_audit_roles_see_the_trail(auditor: Any, nurse: Any, admin_user: Any, client_as: Any) -> None:
    assert client_as(auditor).get("/audit/").status_code == 200
    assert client_as(admin_user).get("/audit/").status_code == 200
    assert client_as(nurse).get("/audit/").status_code == 403


def test_audit_filters(auditor: Any, nurse: Any, patient: Any, client_as: Any) -> None:
    client_as(nurse).get(f"/patients/{patient.pk}/")
    r = client_as(auditor).get(f"/audit/?action=patient.view&patient={patient.pk}&actor=nurse")
    assert r.status_code == 200
    assert [e.action for e in r.context["page"].object_list] == ["patient.view"]
    assert client_as(auditor).get("/audit/?since=yesterday").status_code == 400


def test_audit_is_scoped_to_the_auditors_clinic(
    auditor: Any, other_clinic: Any, make_user: Any, client_as: Any
) -> None:
    outsider = make_user("nurse", clinic=other_clinic)
    with transaction.atomic():
        record_audit(actor=outsider, action="patient.view", clinic=other_clinic)
    r = client_as(auditor).get("/audit/?action=patient.view")
    assert r.context["page"].paginator.count == 0


def test_argon2_is_the_production_hasher_at_owasp_cost() -> None:
    from django.contrib.auth.hashers import get_hasher

    assert settings.PASSWORD_HASHERS[-1] == "ketaclinic.web.accounts.hashers.Argon2idHasher"
    hasher = get_hasher("argon2")
    encoded = hasher.encode("correct horse battery", hasher.salt())
    assert hasher.decode(encoded)["memory_cost"] == 19 * 1024
    assert (hasher.decode(encoded)["time_cost"], hasher.decode(encoded)["parallelism"]) == (2, 1)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_an_older_argon2_hash_is_upgraded_on_sign_in(nurse: Any, settings: Any) -> None:
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher

    settings.PASSWORD_HASHERS = ["ketaclinic.web.accounts.hashers.Argon2idHasher"]
    old = Argon2PasswordHasher().encode(PASSWORD, "somesaltvalue123")  # Django's default: m=100 MiB, p=8
    assert "m=102400,t=2,p=8" in old
    type(nurse).objects.filter(pk=nurse.pk).update(password=old)
    bad = Client().post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    assert bad.status_code == 400
    nurse.refresh_from_db()
    assert nurse.password == old  # a failed sign-in changes nothing
    r = Client().post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    assert r.status_code == 302
    nurse.refresh_from_db()
    assert nurse.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert get_hasher("argon2").verify(PASSWORD, nurse.password)


def test_lockout_after_repeated_failures(nurse: Any) -> None:
    c = Client()
    for _ in range(settings.KETACLINIC_LOCKOUT_THRESHOLD):
        r = c.post("/accounts/login/", {"username": "nurse", "password": "wrong"})
        assert r.status_code == 400
    nurse.refresh_from_db()
    assert nurse.locked_until is not None
    r = c.post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    assert r.status_code == 400
    assert b"temporarily locked" in r.content
    assert "_auth_user_id" not in c.session
    assert AuditEvent.objects.filter(action="auth.login_failed", object_id=str(nurse.pk)).count() == 5
    assert AuditEvent.objects.filter(action="auth.login_refused_locked").count() == 1


@override_settings(KETACLINIC_2FA_ENFORCE=False)  # the password step alone; 2FA: test_two_factor.py
def test_successful_sign_in_resets_failures_and_sign_out_works(nurse: Any) -> None:
    c = Client()
    c.post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    r = c.post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/"  # the role home page
    nurse.refresh_from_db()
    assert nurse.failed_login_count == 0
    assert AuditEvent.objects.filter(action="auth.login").count() == 1
    c.post("/accounts/logout/")
    assert c.get("/patients/").status_code == 302


def test_session_expires_after_idle_timeout() -> None:
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is False  # refreshed at most once a minute instead


@override_settings(KETACLINIC_2FA_ENFORCE=False)  # the password step alone; 2FA: test_two_factor.py
def test_session_expiry_is_refreshed_at_most_once_a_minute(nurse: Any, monkeypatch: Any) -> None:
    from django.contrib.sessions.models import Session

    import ketaclinic.web.lib.middleware as mw

    clock = [1_000_000]
    monkeypatch.setattr(mw, "_clock", lambda: clock[0])
    c = Client()
    assert c.post("/accounts/login/", {"username": "nurse", "password": PASSWORD}).status_code == 302
    key = c.cookies["sessionid"].value
    c.get("/patients/")
    first = Session.objects.get(session_key=key).expire_date
    Session.objects.filter(session_key=key).update(expire_date=first - dt.timedelta(minutes=5))
    clock[0] += 30  # within the minute: no write, the stored expiry stays where it is
    c.get("/patients/")
    assert Session.objects.get(session_key=key).expire_date == first - dt.timedelta(minutes=5)
    clock[0] += 31  # a minute after the last refresh: the expiry moves to now + idle timeout
    c.get("/patients/")
    refreshed = Session.objects.get(session_key=key).expire_date
    assert refreshed > first - dt.timedelta(minutes=5)
    expected = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((refreshed - expected).total_seconds()) < 5


def test_clinic_switcher_only_to_member_clinics(
    make_user: Any, clinic: Any, other_clinic: Any, client_as: Any
) -> None:
    from ketaclinic.web.accounts.models import Membership

    user = make_user("nurse")
    c = client_as(user)
    c.post("/accounts/switch-clinic/", {"clinic": str(other_clinic.pk)})
    assert c.session.get("kc_clinic_id") != other_clinic.pk
    c.get("/patients/")
    assert c.session["kc_clinic_id"] == clinic.pk
    Membership.objects.create(user=user, clinic=other_clinic, role="nurse")
    c.post("/accounts/switch-clinic/", {"clinic": str(other_clinic.pk)})
    assert c.session["kc_clinic_id"] == other_clinic.pk


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    [
        (Role.PRESCRIBER, Perm.ORDER_SIGN, True),
        (Role.NURSE, Perm.ORDER_SIGN, False),
        (Role.NURSE, Perm.SESSION_RUN, True),
        (Role.FRONT_DESK, Perm.PATIENT_EDIT, True),
        (Role.FRONT_DESK, Perm.SESSION_RUN, False),
        (Role.CUSTODIAN, Perm.STOCK_MOVE, True),
        (Role.CUSTODIAN, Perm.PATIENT_VIEW, False),
        (Role.AUDITOR, Perm.AUDIT_VIEW, True),
        (Role.AUDITOR, Perm.PATIENT_EDIT, False),
        (Role.AUDITOR, Perm.STOCK_MOVE, False),
        (Role.CLINIC_ADMIN, Perm.CLINIC_ADMIN, True),
    ],
)
def test_role_permissions(
    make_user: Any, clinic: Any, other_clinic: Any, role: Role, perm: Perm, allowed: bool
) -> None:
    user = make_user(role.value)
    assert has_perm_in_clinic(user, clinic, perm) is allowed
    assert has_perm_in_clinic(user, other_clinic, perm) is False


def test_clinic_admin_invites_user_and_creates_site(admin_user: Any, clinic: Any, client_as: Any) -> None:
    c = client_as(admin_user)
    r = c.post(
        "/clinic/settings/",
        {"form": "invite", "username": "newnurse", "roles": ["nurse"], "display_name": "New"},
    )
    assert r.status_code == 200 and "/accounts/set-password/" in r.context["one_time_link"]
    invited = User.objects.get(username="newnurse")
    assert invited.memberships.get().role == "nurse" and not invited.has_usable_password()
    r = c.post(
        "/clinic/settings/",
        {"form": "site", "name": "Second", "jurisdiction": "AU-NSW", "timezone": "Australia/Sydney"},
    )
    assert r.status_code == 302 and clinic.sites.get(name="Second").country == "AU"
    before = AuditEvent.objects.count()
    r = c.post(
        "/clinic/settings/", {"form": "site", "name": "Third", "jurisdiction": "FR", "timezone": "UTC"}
    )
    assert r.status_code == 400 and not clinic.sites.filter(name="Third").exists()
    assert AuditEvent.objects.count() == before


def test_registration_requires_number_and_valid_date(
    admin_user: Any, clinic: Any, site: Any, client_as: Any
) -> None:
    from ketaclinic.web.clinics.models import Registration

    c = client_as(admin_user)
    r = c.post(
        "/clinic/settings/",
        {"form": "registration", "site_id": site.pk, "kind": "dea", "number": "", "expires_on": "soon"},
    )
    assert r.status_code == 400 and r.context["errors"] == {
        "number": ["is required"],
        "expires_on": ["must be a date in YYYY-MM-DD format"],
    }
    assert Registration.objects.count() == 0
    r = c.post(
        "/clinic/settings/",
        {
            "form": "registration",
            "site_id": site.pk,
            "kind": "dea",
            "number": "AB1234563",
            "expires_on": "2027-06-30",
        },
    )
    assert r.status_code == 302 and Registration.objects.get().number == "AB1234563"


def test_argon2_hashes_run_a_bounded_number_at_once(monkeypatch: Any) -> None:
    """A burst of sign-ins queues for hashing slots instead of allocating 19 MiB each at the same moment."""
    import threading
    import time as _time

    from django.contrib.auth.hashers import Argon2PasswordHasher

    from ketaclinic.web.accounts import hashers

    monkeypatch.setattr(hashers, "_SLOTS", threading.BoundedSemaphore(2))
    running, peak, lock = [0], [0], threading.Lock()

    def slow_verify(self: Any, password: str, encoded: str) -> bool:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        _time.sleep(0.05)
        with lock:
            running[0] -= 1
        return True

    monkeypatch.setattr(Argon2PasswordHasher, "verify", slow_verify)
    h = hashers.Argon2idHasher()
    threads = [threading.Thread(target=h.verify, args=("pw", "argon2$x")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
