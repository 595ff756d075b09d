"""Ledger fixtures: a product, a registered supplier, storage locations, stock on hand and dosing sessions."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.accounts.models import User
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger import actions
from ketaclinic.web.ledger.models import Lot, Product, StorageLocation, Supplier
from ketaclinic.web.patients.models import Patient

_session_ids = itertools.count(9001)


@pytest.fixture
def product(clinic: Clinic, custodian: User) -> Product:
    return actions.do_create_product(
        actor=custodian,
        clinic=clinic,
        code_system="ndc",
        code="0409-2051-05",
        drug="ketamine",
        name="Ketamine hydrochloride injection",
        form="injection solution",
        strength_mg_per_unit="50",
        unit="mL",
        container_size="10",
        container_label="vial",
    )


@pytest.fixture
def supplier(clinic: Clinic, custodian: User) -> Supplier:
    return actions.do_create_supplier(
        actor=custodian,
        clinic=clinic,
        name="Acme Pharma",
        address="1 Main St, Sacramento CA",
        registration_number="RA1234563",
        registration_expires_on=timezone.localdate() + dt.timedelta(days=365),
    )


@pytest.fixture
def safe(site: Site, custodian: User) -> StorageLocation:
    return actions.do_create_location(actor=custodian, site=site, name="Safe")


@pytest.fixture
def cart(site: Site, custodian: User) -> StorageLocation:
    return actions.do_create_location(actor=custodian, site=site, name="Cart")


@pytest.fixture
def stocked(custodian: User, safe: StorageLocation, product: Product, supplier: Supplier) -> Lot:
    """Lot L1 with 20 mL (two vials) in the safe."""
    entry = actions.do_receive_stock(
        actor=custodian,
        location=safe,
        product=product,
        supplier=supplier,
        lot_number="L1",
        lot_expires_on=timezone.localdate() + dt.timedelta(days=200),
        quantity="20",
        invoice="INV-1",
    )
    return entry.lot


@pytest.fixture
def make_session(patient: Patient) -> Callable[..., Any]:
    """A dosing session stand-in (pk and patient), as the treatment app's DosingSession provides."""

    def make(p: Patient = patient) -> Any:
        return SimpleNamespace(pk=next(_session_ids), patient=p)

    return make


@pytest.fixture
def witness(nurse: User) -> User:
    return nurse


@pytest.fixture
def dosing_session(clinic: Clinic, site: Site, patient: Patient, prescriber: User) -> Any:
    """A real treatment.DosingSession, created directly (the ledger does not run sessions)."""
    from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

    course = TreatmentCourse.objects.create(
        clinic=clinic,
        patient=patient,
        protocol_id="test-iv",
        protocol_version=1,
        protocol_snapshot={},
        indication="TRD",
        started_by=prescriber,
        started_at=timezone.now(),
    )
    return DosingSession.objects.create(
        clinic=clinic, site=site, patient=patient, course=course, scheduled_for=timezone.now()
    )


@pytest.fixture(autouse=True)
def _witnesses_without_two_factor(settings: Any) -> None:
    """These tests' witnesses have not set up two-factor sign-in, so it is not required of them here; the
    witness's code is tested in tests/web/ledger/test_witness_two_factor.py."""
    settings.KETACLINIC_2FA_ENFORCE = False
