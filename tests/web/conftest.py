"""Fixtures for web tests: clinics, sites, users in every role, a patient, and signed-in clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketaclinic.web.accounts.models import Membership, User
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.patients.models import Patient, WeightMeasurement

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def clinic(db: Any) -> Clinic:
    return Clinic.objects.create(name="Test Clinic", slug="test-clinic")


@pytest.fixture
def other_clinic(db: Any) -> Clinic:
    return Clinic.objects.create(name="Other Clinic", slug="other-clinic")


@pytest.fixture
def site(clinic: Clinic) -> Site:
    return Site.objects.create(
        clinic=clinic, name="Main", jurisdiction="US-CA", city="Sacramento", rems_certified=True
    )


@pytest.fixture
def make_user(db: Any, clinic: Clinic) -> Callable[..., User]:
    counter = {"n": 0}

    def make(role: str, clinic: Clinic = clinic, username: str | None = None, **extra: Any) -> User:
        counter["n"] += 1
        user = User(
            username=username or f"{role}{counter['n']}",
            display_name=f"{role.title()} {counter['n']}",
            **extra,
        )
        user.set_password(PASSWORD)
        user.save()
        Membership.objects.create(user=user, clinic=clinic, role=role)
        return user

    return make


@pytest.fixture
def prescriber(make_user: Callable[..., User]) -> User:
    return make_user("prescriber", username="prescriber")


@pytest.fixture
def prescriber2(make_user: Callable[..., User]) -> User:
    return make_user("prescriber", username="prescriber2")


@pytest.fixture
def nurse(make_user: Callable[..., User]) -> User:
    return make_user("nurse", username="nurse")


@pytest.fixture
def front_desk(make_user: Callable[..., User]) -> User:
    return make_user("front_desk", username="frontdesk")


@pytest.fixture
def auditor(make_user: Callable[..., User]) -> User:
    return make_user("auditor", username="auditor")


@pytest.fixture
def custodian(make_user: Callable[..., User]) -> User:
    return make_user("custodian", username="custodian")


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user("clinic_admin", username="clinicadmin")


@pytest.fixture
def patient(clinic: Clinic, site: Site) -> Patient:
    p = Patient.objects.create(
        clinic=clinic,
        home_site=site,
        mrn="MRN-1",
        given_name="Alex",
        family_name="Rivera",
        birth_date=dt.date(1985, 4, 2),
        sex_at_birth="female",
    )
    WeightMeasurement.objects.create(
        patient=p, weight_kg=Decimal("70.0"), measured_at=timezone.now() - dt.timedelta(days=1)
    )
    return p


@pytest.fixture
def client_as(db: Any) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        c = Client()
        c.force_login(user)
        return c

    return make
