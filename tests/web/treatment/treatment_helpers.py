"""Fixtures-as-functions for treatment web tests: cleared screening, a course, an order, a session at a state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import (
    Administration,
    DosingSession,
    Order,
    SessionTransition,
    TreatmentCourse,
    VitalSign,
)


def counts() -> dict[str, int]:
    return {
        "courses": TreatmentCourse.objects.count(),
        "orders": Order.objects.count(),
        "sessions": DosingSession.objects.count(),
        "admins": Administration.objects.count(),
        "vitals": VitalSign.objects.count(),
        "transitions": SessionTransition.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def snapshot(session: DosingSession) -> dict[str, Any]:
    session.refresh_from_db()
    return {f.name: getattr(session, f.attname) for f in DosingSession._meta.concrete_fields}


def start(
    prescriber: Any, patient: Any, protocol: str = "iv-racemic-depression", **kw: Any
) -> TreatmentCourse:
    return A.do_start_course(
        actor=prescriber, patient_id=patient.pk, protocol_id=protocol, indication="trd", **kw
    )


def session_for(
    prescriber: Any, nurse: Any, patient: Any, protocol: str = "iv-racemic-depression", **order_kw: Any
) -> DosingSession:
    enrolled = protocol.startswith("esketamine")
    course = start(
        prescriber,
        patient,
        protocol,
        rems_patient_enrolled=enrolled,
        rems_patient_id="R1" if enrolled else "",
    )
    order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=timezone.now(), **order_kw)
    return A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=timezone.now())


PRE_OK = {
    "fasting_confirmed": True,
    "transport_confirmed": True,
    "escort_name": "Sam",
    "pregnancy_test": "negative",
    "rems_enrolment_verified": True,
}


def to_pre_dose(nurse: Any, s: DosingSession, *, withdraw: bool = True, **vit: int) -> DosingSession:
    """Check in, baseline vitals, pre-dose checks; then (by default) withdraw the ordered dose from the ledger."""
    A.do_check_in(actor=nurse, session_id=s.pk)
    values = {"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98, "respiratory_rate": 14, **vit}
    A.do_record_vitals(
        actor=nurse, session_id=s.pk, values=values, taken_at=timezone.now() - dt.timedelta(minutes=1)
    )
    s = A.do_pass_pre_dose_checks(actor=nurse, session_id=s.pk, data=PRE_OK)
    if withdraw:
        lot, location = stock_at(s.site, s.order.drug)
        A.do_withdraw_stock(actor=nurse, session_id=s.pk, lot_id=lot.pk, location_id=location.pk)
        s.refresh_from_db()
    return s


# Ledger stock used by the sessions: ketamine 50 mg/mL in 10 mL vials (lot KET-L1, 100 mL), esketamine 28 mg
# devices (lot ESK1, 20 devices), received by a custodian into the site's "Safe".
STOCK = {
    "ketamine": {
        "code": "0409-2051-05",
        "name": "Ketamine hydrochloride injection",
        "form": "injection solution",
        "strength_mg_per_unit": "50",
        "unit": "mL",
        "container_size": "10",
        "container_label": "vial",
        "lot": "KET-L1",
        "quantity": "100",
    },
    "esketamine": {
        "code": "50458-028-02",
        "name": "Spravato (esketamine) nasal spray",
        "form": "nasal spray",
        "strength_mg_per_unit": "28",
        "unit": "device",
        "container_size": "2",
        "container_label": "kit",
        "lot": "ESK1",
        "quantity": "20",
    },
}


def custodian_of(clinic: Any) -> Any:
    from ketaclinic.web.accounts.models import Membership, User

    m = (
        Membership.objects.filter(clinic=clinic, role="custodian", is_active=True)
        .select_related("user")
        .first()
    )
    if m is not None:
        return m.user
    user = User.objects.create(username=f"stock-custodian-{clinic.pk}", display_name="Stock Custodian")
    Membership.objects.create(user=user, clinic=clinic, role="custodian")
    return user


def stock_at(site: Any, drug: str) -> tuple[Any, Any]:
    """(lot, location) of `drug` stock at `site`, received through the ledger actions on first use."""
    from ketaclinic.web.ledger import actions as L
    from ketaclinic.web.ledger.models import Lot, Product, StorageLocation, Supplier

    spec = STOCK[drug]
    clinic = site.clinic
    custodian = custodian_of(clinic)
    product = Product.objects.filter(clinic=clinic, code=spec["code"]).first() or L.do_create_product(
        actor=custodian,
        clinic=clinic,
        code_system="ndc",
        code=spec["code"],
        drug=drug,
        name=spec["name"],
        form=spec["form"],
        strength_mg_per_unit=spec["strength_mg_per_unit"],
        unit=spec["unit"],
        container_size=spec["container_size"],
        container_label=spec["container_label"],
    )
    supplier = Supplier.objects.filter(clinic=clinic).first() or L.do_create_supplier(
        actor=custodian,
        clinic=clinic,
        name="Acme Pharma",
        address="1 Main St, Sacramento CA",
        registration_number="RA1234563",
        registration_expires_on=timezone.localdate() + dt.timedelta(days=365),
    )
    location = StorageLocation.objects.filter(site=site, name="Safe").first() or L.do_create_location(
        actor=custodian, site=site, name="Safe"
    )
    lot = Lot.objects.filter(product=product, lot_number=spec["lot"]).first()
    if lot is None:
        lot = L.do_receive_stock(
            actor=custodian,
            location=location,
            product=product,
            supplier=supplier,
            lot_number=spec["lot"],
            lot_expires_on=timezone.localdate() + dt.timedelta(days=200),
            quantity=spec["quantity"],
            occurred_at=timezone.now() - dt.timedelta(days=1),
        ).lot
    return lot, location


def waste_remainder(nurse: Any, s: DosingSession, witness: Any, at: dt.datetime | None = None) -> list[Any]:
    """Waste what the session still holds, witnessed by `witness` (who re-enters the test password)."""
    from tests.web.conftest import PASSWORD

    return A.do_waste_remainder(
        actor=nurse, session_id=s.pk, witness_id=witness.pk, witness_password=PASSWORD, occurred_at=at
    )
