"""Seed the synthetic demo clinic (fixed seed; never real people). Idempotent: a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

DEMO_SEED = 20261121
DEMO_CLINIC_SLUG = "riverside-demo"
DEMO_PASSWORD = "ketaclinic-demo-2026"
# Apps that may contribute demo data through a `demo.py` module with `seed(ctx: DemoContext) -> None`.
DOMAIN_APPS = (
    "assessments",
    "screening",
    "treatment",
    "monitoring",
    "ledger",
    "telehealth",
    "therapy",
    "surveillance",
    "pain",
    "careplan",
)

DEMO_STAFF = [
    # username, display name, roles, professional id
    ("dr.patel", "Dr Asha Patel", ["prescriber"], "NPI 1000000001"),
    ("dr.okafor", "Dr Chidi Okafor", ["prescriber"], "NPI 1000000002"),
    ("nurse.kim", "Nurse Joon Kim", ["nurse"], "RN 552201"),
    ("nurse.silva", "Nurse Marta Silva", ["nurse"], "RN 552202"),
    ("desk.lee", "Robin Lee", ["front_desk"], ""),
    ("custodian.garcia", "Luis Garcia", ["custodian"], ""),
    ("auditor.smith", "Jordan Smith", ["auditor"], ""),
    ("admin.jones", "Casey Jones", ["clinic_admin"], ""),
    ("therapist.ng", "Sam Ng, LMFT", ["therapist"], "LMFT 120045"),
    ("researcher.ito", "Mika Ito", ["researcher"], ""),
]

GIVEN_F = [
    "Ava",
    "Maya",
    "Chloe",
    "Zoe",
    "Ines",
    "Priya",
    "Leila",
    "Hana",
    "Sofia",
    "Nora",
    "Freya",
    "Amara",
    "Yuki",
    "Elena",
    "Rosa",
    "Tessa",
    "Lina",
    "Mei",
    "Anya",
    "Clara",
]
GIVEN_M = [
    "Liam",
    "Noah",
    "Omar",
    "Kai",
    "Mateo",
    "Arjun",
    "Felix",
    "Jonah",
    "Theo",
    "Ravi",
    "Diego",
    "Ezra",
    "Hugo",
    "Tariq",
    "Luca",
    "Sami",
    "Owen",
    "Idris",
    "Marco",
    "Ben",
]
FAMILY = [
    "Rivera",
    "Chen",
    "Okoye",
    "Novak",
    "Haddad",
    "Larsen",
    "Moreau",
    "Tanaka",
    "Schulz",
    "Alvarez",
    "Kowalski",
    "Mensah",
    "Ibrahim",
    "Sato",
    "Quinn",
    "Byrne",
    "Fischer",
    "Duarte",
    "Nakamura",
    "Petrov",
    "Osei",
    "Lindqvist",
    "Romano",
    "Kaur",
    "Whitfield",
]


@dataclass
class DemoContext:
    """What the base seed made, for domain apps to build on."""

    clinic: Any
    sites: list[Any]
    staff: dict[str, Any]
    patients: list[Any]
    rng: random.Random
    now: dt.datetime
    extra: dict[str, Any] = field(default_factory=dict)


def demo_exists() -> bool:
    from ketaclinic.web.clinics.models import Clinic

    return Clinic.objects.filter(slug=DEMO_CLINIC_SLUG).exists()


def _make_patients(
    clinic: Any, sites: list[Any], rng: random.Random, now: dt.datetime, count: int
) -> list[Any]:
    from ketaclinic.web.patients.models import Patient, PatientVersion, WeightMeasurement

    patients = []
    for i in range(1, count + 1):
        sex = rng.choice(["female", "male", "female", "male", "intersex"]) if i % 17 else "unknown"
        given = rng.choice(GIVEN_F if sex == "female" else GIVEN_M if sex == "male" else GIVEN_F + GIVEN_M)
        family = rng.choice(FAMILY)
        age_days = rng.randint(19 * 365, 72 * 365)
        born = (now - dt.timedelta(days=age_days)).date()
        p = Patient.objects.create(
            clinic=clinic,
            home_site=sites[i % len(sites)],
            mrn=f"MRN-{i:06d}",
            given_name=given,
            family_name=family,
            birth_date=born,
            sex_at_birth=sex,
            phone=f"+1-555-01{i:02d}",
            email=f"{given.lower()}.{i}@example.invalid",
            city=sites[i % len(sites)].city,
            emergency_contact_name=f"{rng.choice(GIVEN_F + GIVEN_M)} {family}",
            emergency_contact_phone=f"+1-555-02{i:02d}",
            emergency_contact_relationship=rng.choice(["partner", "parent", "sibling", "friend"]),
            referring_clinician=rng.choice(
                ["Dr M. Alvarez (psychiatry)", "Dr K. Obi (primary care)", "Dr S. Lund (pain clinic)"]
            ),
            is_synthetic=True,
        )
        PatientVersion.objects.create(
            patient=p,
            version=1,
            snapshot={
                "mrn": p.mrn,
                "given_name": given,
                "family_name": family,
                "birth_date": born.isoformat(),
                "sex_at_birth": sex,
            },
            changed_fields=["created"],
            changed_by=None,
            changed_at=now,
        )
        base = Decimal(rng.randint(520, 1150)) / 10
        for k in range(rng.randint(1, 3)):
            WeightMeasurement.objects.create(
                patient=p,
                weight_kg=base + Decimal(k) / 2,
                measured_at=now - dt.timedelta(days=60 - 25 * k, hours=rng.randint(0, 8)),
                source="demo",
            )
        patients.append(p)
    return patients


def seed_demo(*, patients: int = 50, progress: Any = None) -> DemoContext | None:
    """Create the demo clinic, sites, staff and synthetic patients, then let domain apps add their data.

    Returns None when the demo already exists (nothing is changed).
    """
    from ketaclinic.web.accounts.models import Membership, User
    from ketaclinic.web.clinics.models import Clinic, Registration, Site
    from ketaclinic.web.lib.audit import record_audit

    if demo_exists():
        return None
    rng = random.Random(DEMO_SEED)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        clinic = Clinic.objects.create(
            name="Riverside Ketamine Clinic (demo)",
            slug=DEMO_CLINIC_SLUG,
            phone="+1-555-0100",
            email="front-desk@example.invalid",
            is_synthetic=True,
        )
        main = Site.objects.create(
            clinic=clinic,
            name="Riverside Main",
            address_line="100 Example Way",
            city="Sacramento",
            region="CA",
            postal_code="95814",
            jurisdiction="US-CA",
            timezone="America/Los_Angeles",
            rems_certified=True,
            rems_certification_id="REMS-DEMO-0001",
        )
        lake = Site.objects.create(
            clinic=clinic,
            name="Lakeside",
            address_line="7 Shore Road",
            city="Reno",
            region="NV",
            postal_code="89501",
            jurisdiction="US-NV",
            timezone="America/Los_Angeles",
        )
        for site, dea in ((main, "FR0000001"), (lake, "FR0000002")):
            Registration.objects.create(
                site=site,
                kind=Registration.Kind.DEA,
                number=dea,
                schedules="II-V",
                expires_on=(now + dt.timedelta(days=400)).date(),
            )
        other = Clinic.objects.create(
            name="Harbour Psychiatry (demo)", slug="harbour-demo", is_synthetic=True
        )
        Site.objects.create(
            clinic=other, name="Harbour", city="Bristol", jurisdiction="UK", timezone="Europe/London"
        )
        staff: dict[str, Any] = {}
        for username, name, roles, prof in DEMO_STAFF:
            user = User(
                username=username,
                display_name=name,
                email=f"{username}@example.invalid",
                professional_id=prof,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            for role in roles:
                Membership.objects.create(user=user, clinic=clinic, role=role)
            staff[username] = user
        Membership.objects.create(user=staff["admin.jones"], clinic=other, role="clinic_admin")
        made = _make_patients(clinic, [main, lake], rng, now, patients)
        record_audit(
            actor="ketaclinic demo",
            action="demo.seed",
            clinic=clinic,
            detail={"patients": len(made), "seed": DEMO_SEED},
        )
    ctx = DemoContext(clinic=clinic, sites=[main, lake], staff=staff, patients=made, rng=rng, now=now)
    if progress is not None:
        progress("patients")
    for app in DOMAIN_APPS:
        try:
            module = importlib.import_module(f"ketaclinic.web.{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"ketaclinic.web.{app}.demo":
                raise
            if progress is not None:
                progress(app)
            continue
        with transaction.atomic():
            module.seed(ctx)
        if progress is not None:
            progress(app)
    return ctx
