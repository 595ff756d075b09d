"""Whole-number clinic settings (API token lifetime, small-cell threshold): exact refusals, nothing changed."""

from __future__ import annotations

import pytest

from ketaclinic.web.accounts.models import User
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics import actions
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.errors import PermissionDeniedError, ValidationFailed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ninety", "must be a whole number of days"),
        ("0", "must be between 1 and 365 days"),
        ("366", "must be between 1 and 365 days"),
    ],
)
def test_token_lifetime_refusals(admin_user: User, clinic: Clinic, raw: str, message: str) -> None:
    before, events = Clinic.objects.get(pk=clinic.pk).api_token_days, AuditEvent.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_set_token_lifetime(actor=admin_user, clinic=clinic, days=raw)
    assert exc.value.fields == {"api_token_days": [message]}
    assert Clinic.objects.get(pk=clinic.pk).api_token_days == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a few", "must be a whole number"),
        ("1", "must be between 2 and 100"),
        ("101", "must be between 2 and 100"),
    ],
)
def test_small_cell_refusals(admin_user: User, clinic: Clinic, raw: str, message: str) -> None:
    before = Clinic.objects.get(pk=clinic.pk).small_cell_threshold
    with pytest.raises(ValidationFailed) as exc:
        actions.do_set_small_cell_threshold(actor=admin_user, clinic=clinic, threshold=raw)
    assert exc.value.fields == {"small_cell_threshold": [message]}
    assert Clinic.objects.get(pk=clinic.pk).small_cell_threshold == before


def test_settings_saved_with_old_and_new_in_the_audit(admin_user: User, clinic: Clinic) -> None:
    old = clinic.api_token_days
    row = actions.do_set_token_lifetime(actor=admin_user, clinic=clinic, days=" 30 ")
    assert row.api_token_days == 30 and Clinic.objects.get(pk=clinic.pk).api_token_days == 30
    ev = AuditEvent.objects.order_by("-pk").first()
    assert ev is not None and ev.detail == {"api_token_days": [old, 30]}
    row = actions.do_set_small_cell_threshold(actor=admin_user, clinic=clinic, threshold=20)
    assert Clinic.objects.get(pk=clinic.pk).small_cell_threshold == 20


def test_only_a_clinic_admin(nurse: User, clinic: Clinic) -> None:
    before = Clinic.objects.get(pk=clinic.pk).api_token_days
    with pytest.raises(PermissionDeniedError):
        actions.do_set_token_lifetime(actor=nurse, clinic=clinic, days=30)
    assert Clinic.objects.get(pk=clinic.pk).api_token_days == before
