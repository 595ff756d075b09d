"""Seed the synthetic demo clinic (fixed seed; never real people). Idempotent: a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic

DEMO_SEED = 20261121
DEMO_CLINIC_SLUG = "riverside-demo"
DEMO_PASSWORD = "ketaclinic-demo-2026"
# The per-app seeding hook: each app listed here may have `ketaclinic/web/<app>/demo.py` with
# `seed(ctx: DemoContext) -> None`, called in this order after the clinic, staff and patients exist (an app
# builds on what earlier apps left in `ctx.extra`). Seed through the app's real actions; the whole seed is one
# transaction with cheap password hashing (`demo_password_hashing`). Adding an app is one entry here.
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
BASE_STEP = "clinic, staff and patients"

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


class DemoArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 at its smallest cost, used only while the demo is seeded.

    Seeding signs witness records through the real password check dozens of times; at the production cost
    (100 MiB, 8 lanes) each check takes most of a second on a small machine. The hashes it writes are ordinary
    Argon2 hashes (the verifier reads the cost from the hash), and Django re-hashes them at the production cost
    the first time the account signs in, because their parameters differ from the configured ones.
    """

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


@contextmanager
def demo_password_hashing() -> Iterator[None]:
    """Within the block, new passwords are hashed with `DemoArgon2PasswordHasher` and not re-hashed on check."""
    saved = settings.PASSWORD_HASHERS
    demo = f"{__name__}.DemoArgon2PasswordHasher"
    settings.PASSWORD_HASHERS = [demo, *(h for h in saved if not h.endswith(".Argon2PasswordHasher"))]
    _clear_hasher_caches()
    try:
        yield
    finally:
        settings.PASSWORD_HASHERS = saved
        _clear_hasher_caches()


class _Cached(Protocol):
    def cache_clear(self) -> None: ...


def _clear_hasher_caches() -> None:
    """Forget the hashers Django built from PASSWORD_HASHERS. Both functions are `functools.lru_cache`
    wrappers at run time; the stubs declare them as plain functions, hence the cast."""
    from django.contrib.auth import hashers

    for cached in (hashers.get_hashers, hashers.get_hashers_by_algorithm):
        cast(_Cached, cached).cache_clear()


@dataclass
class DemoContext:
    """What the base seed made, for domain apps to build on."""

    clinic: Clinic
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
    clinic: Clinic, sites: list[Any], rng: random.Random, now: dt.datetime, count: int
) -> list[Any]:
    from ketaclinic.web.patients.models import Patient, PatientVersion, WeightMeasurement

    # Three batched inserts (patients, their first versions, their weights) rather than one query per row.
    rows: list[Any] = []
    weights: list[tuple[int, list[Any]]] = []
    for i in range(1, count + 1):
        sex = rng.choice(["female", "male", "female", "male", "intersex"]) if i % 17 else "unknown"
        given = rng.choice(GIVEN_F if sex == "female" else GIVEN_M if sex == "male" else GIVEN_F + GIVEN_M)
        family = rng.choice(FAMILY)
        age_days = rng.randint(19 * 365, 72 * 365)
        born = (now - dt.timedelta(days=age_days)).date()
        rows.append(
            Patient(
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
        )
        base = Decimal(rng.randint(520, 1150)) / 10
        weights.append(
            (
                i - 1,
                [
                    (base + Decimal(k) / 2, now - dt.timedelta(days=60 - 25 * k, hours=rng.randint(0, 8)))
                    for k in range(rng.randint(1, 3))
                ],
            )
        )
    patients = Patient.objects.bulk_create(rows)
    PatientVersion.objects.bulk_create(
        PatientVersion(
            patient=p,
            version=1,
            snapshot={
                "mrn": p.mrn,
                "given_name": p.given_name,
                "family_name": p.family_name,
                "birth_date": p.birth_date.isoformat(),
                "sex_at_birth": p.sex_at_birth,
            },
            changed_fields=["created"],
            changed_by=None,
            changed_at=now,
        )
        for p in patients
    )
    WeightMeasurement.objects.bulk_create(
        WeightMeasurement(patient=patients[index], weight_kg=kg, measured_at=at, source="demo")
        for index, series in weights
        for kg, at in series
    )
    return patients


def seeding_steps() -> list[str]:
    """The steps `seed_demo` reports to its `progress` callback, in order (for a progress bar)."""
    return [BASE_STEP, *DOMAIN_APPS]


def seed_demo(*, patients: int = 50, progress: Any = None) -> DemoContext | None:
    """Create the demo clinic, sites, staff and synthetic patients, then let domain apps add their data.

    Returns None when the demo already exists (nothing is changed). `progress(step)` is called after each
    step of `seeding_steps()`, with that step's name.
    """
    if demo_exists():
        return None
    # One transaction: a seed that fails half-way leaves no half-made demo behind (the next run starts afresh).
    with demo_password_hashing(), transaction.atomic():
        return _seed(patients=patients, progress=progress)


def _seed(*, patients: int, progress: Any) -> DemoContext:
    from ketaclinic.web.accounts.models import Membership, User
    from ketaclinic.web.clinics.models import Clinic, Registration, Site
    from ketaclinic.web.lib.audit import record_audit

    rng = random.Random(DEMO_SEED)
    now = timezone.now().replace(microsecond=0)
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
    other = Clinic.objects.create(name="Harbour Psychiatry (demo)", slug="harbour-demo", is_synthetic=True)
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
        action=AuditAction.DEMO_SEED,
        clinic=clinic,
        detail={"patients": len(made), "seed": DEMO_SEED},
    )
    ctx = DemoContext(clinic=clinic, sites=[main, lake], staff=staff, patients=made, rng=rng, now=now)
    if progress is not None:
        progress(BASE_STEP)
    for app in DOMAIN_APPS:
        try:
            module = importlib.import_module(f"ketaclinic.web.{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"ketaclinic.web.{app}", f"ketaclinic.web.{app}.demo"):
                raise
        else:
            module.seed(ctx)
        if progress is not None:
            progress(app)
    return ctx
