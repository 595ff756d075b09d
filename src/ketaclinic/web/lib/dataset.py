"""A synthetic clinic at scale for benchmarks: staff, patients, a year of sessions, scores and sensor readings.

Fast on purpose: on PostgreSQL every bulk table is loaded with COPY (the binary-safe text protocol of
psycopg, no per-row SQL or JSON quoting in Python: each JSON document is serialised once per template and
reused); elsewhere with bulk_create in chunks. Seeded: the same arguments give the same data.

What it makes, in one clinic (`bench-<seed>` unless told) with two sites:
- `staff` users `bench.user01`.. with the nurse and prescriber roles and one known password;
- `patients` synthetic patients, each with a weight, one treatment course and sessions spread over the last
  365 days (discharged), plus `live_sessions` sessions in progress today with a sensor attached each;
- `observations` rows split between assessment scores (PHQ-9 and GAD-7, 56 %) and sensor readings (44 %),
  the split of the issue's reference dataset; one "heavy" patient gets `heavy_scores` scores of their own.
Every score row carries a real FHIR QuestionnaireResponse and Observation of its instrument (from a pool of
answer sets scored by the core engine), so rows have their production width.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.fhir.questionnaire import build_questionnaire_response, build_score_observation
from ketaclinic.core.instruments import load_instrument, score

DEFAULT_PASSWORD = "bench-password-2026"
SCORE_SHARE = 0.56
INSTRUMENTS = ("phq9", "gad7")
POOL = 200  # scored answer sets per instrument
SESSIONS_PER_PATIENT = 6
GIVEN = (
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Robin",
    "Drew",
)
FAMILY = ("Rivera", "Nguyen", "Smith", "Okafor", "Kowalski", "Haddad", "Larsen", "Moreau", "Tanaka", "Silva")
SENSOR_METRICS = (
    ("sbp", "8480-6", "mm[Hg]", 124.0, 12.0),
    ("dbp", "8462-4", "mm[Hg]", 78.0, 8.0),
    ("hr", "8867-4", "/min", 74.0, 9.0),
    ("spo2", "59408-5", "%", 97.5, 1.0),
    ("rr", "9279-1", "/min", 14.0, 2.0),
)


@dataclass
class DatasetSummary:
    clinic_id: int
    clinic_slug: str
    site_ids: list[int]
    usernames: list[str]
    password: str
    patients: int
    sessions: int
    scores: int
    sensor_readings: int
    heavy_patient_id: int
    live_sessions: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DatasetError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into `table` (PostgreSQL) or bulk INSERT them (elsewhere), 5,000 at a time."""
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cur,
            cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    batch: list[Sequence[Any]] = []
    with connection.cursor() as cur:
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cur.executemany(sql, batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)


def _ids(model: Any, **filters: Any) -> list[int]:
    return list(model.objects.filter(**filters).order_by("pk").values_list("pk", flat=True))


def _score_pool(
    rng: random.Random,
) -> dict[str, list[tuple[str, bool, float | None, str, str, bool, str, str]]]:
    """Per instrument: (answers JSON, complete, total, severity, flags JSON, suicide risk, QR JSON, Obs JSON)."""
    pool: dict[str, list[tuple[str, bool, float | None, str, str, bool, str, str]]] = {}
    at = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    for iid in INSTRUMENTS:
        defn = load_instrument(iid)
        n_items = len(defn.items)
        rows = []
        for k in range(POOL):
            level = rng.random()
            answers = [min(3, max(0, int(rng.gauss(level * 3, 0.8)))) for _ in range(n_items)]
            if iid == "phq9":
                answers[-1] = 0  # no positive item 9: a bench patient must not block dosing with a risk alert
            result = score(defn, answers)
            qr = build_questionnaire_response(
                defn,
                result,
                patient_ref="Patient/0",
                authored=at,
                resource_id=f"bench-{iid}-{k}",
                author_ref=None,
                source_ref=None,
            )
            obs = build_score_observation(
                defn,
                result,
                patient_ref="Patient/0",
                effective=at,
                resource_id=f"bench-{iid}-{k}-score",
                derived_from_ref=f"QuestionnaireResponse/bench-{iid}-{k}",
            )
            rows.append(
                (
                    json.dumps(list(result.answers)),
                    result.complete,
                    result.total,
                    result.severity or "",
                    json.dumps(list(result.flag_codes)),
                    result.suicide_risk,
                    json.dumps(qr),
                    json.dumps(obs),
                )
            )
        pool[iid] = rows
    return pool


def generate_dataset(
    *,
    patients: int,
    observations: int,
    seed: int,
    staff: int = 20,
    password: str = DEFAULT_PASSWORD,
    clinic_slug: str | None = None,
    heavy_scores: int = 1000,
    live_sessions: int = 20,
    progress: Callable[[str], None] | None = None,
) -> DatasetSummary:
    """Create the dataset (see the module docstring). Refuses bad sizes and an existing clinic slug."""
    import time

    from ketaclinic.web.accounts.actions import do_create_user
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.clinics.models import Clinic, Site
    from ketaclinic.web.lib.audit import record_audit
    from ketaclinic.web.monitoring.models import Device, DeviceAttachment, SensorReading
    from ketaclinic.web.patients.models import Patient, WeightMeasurement
    from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

    if patients < 1:
        raise DatasetError("patients", "must be at least 1")
    if observations < 0:
        raise DatasetError("observations", "must be 0 or more")
    if not 1 <= staff <= 99:
        raise DatasetError("staff", "must be between 1 and 99")
    if heavy_scores < 0 or live_sessions < 0:
        raise DatasetError("heavy-scores" if heavy_scores < 0 else "live-sessions", "must be 0 or more")
    if live_sessions > patients:
        raise DatasetError("live-sessions", f"must be at most the number of patients ({patients})")
    slug = clinic_slug or f"bench-{seed}"
    if Clinic.objects.filter(slug=slug).exists():
        raise DatasetError("clinic", f"a clinic {slug!r} already exists (choose another --clinic or --seed)")
    started = time.monotonic()
    report = progress or (lambda _msg: None)

    def say(msg: str) -> None:
        report(f"{time.monotonic() - started:7.1f} s  {msg}")

    rng = random.Random(seed)
    now = timezone.now()

    with transaction.atomic():
        clinic = Clinic.objects.create(name=f"Bench clinic {seed}", slug=slug, is_synthetic=True)
        sites = [
            Site.objects.create(clinic=clinic, name=f"Bench site {k}", jurisdiction="US-CA") for k in (1, 2)
        ]
        record_audit(
            actor="ketaclinic generate-dataset",
            action=AuditAction.CLINIC_CREATE,
            obj=clinic,
            clinic=clinic,
            detail={"patients": patients, "observations": observations, "seed": seed},
        )
    usernames = [f"{slug}.user{k:02d}" for k in range(1, staff + 1)]
    users = [
        do_create_user(
            actor="ketaclinic generate-dataset",
            username=u,
            password=password,
            clinic=clinic,
            roles=["nurse", "prescriber"],
            display_name=u,
            check_actor=False,
        )
        for u in usernames
    ]
    say(f"clinic {slug}, {len(sites)} sites, {staff} staff")

    # Patients (COPY), then their weights and one course each.
    created = now.isoformat()
    _copy(
        Patient._meta.db_table,
        (
            "clinic_id",
            "home_site_id",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "sex_at_birth",
            "phone",
            "email",
            "address_line",
            "city",
            "postal_code",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relationship",
            "referring_clinician",
            "referring_clinician_contact",
            "is_synthetic",
            "version",
            "created_at",
            "updated_at",
        ),
        (
            (
                clinic.pk,
                sites[i % 2].pk,
                f"B{seed}-{i:07d}",
                rng.choice(GIVEN),
                rng.choice(FAMILY),
                dt.date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28)).isoformat(),
                rng.choice(("female", "male")),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                True,
                1,
                created,
                created,
            )
            for i in range(patients)
        ),
    )
    pids = _ids(Patient, clinic=clinic)
    site_of = {pid: sites[i % 2].pk for i, pid in enumerate(pids)}
    _copy(
        WeightMeasurement._meta.db_table,
        ("patient_id", "weight_kg", "measured_at", "source", "recorded_at", "recorded_by_id"),
        (
            (
                pid,
                round(rng.uniform(50, 110), 1),
                (now - dt.timedelta(days=400)).isoformat(),
                "clinic",
                created,
                users[0].pk,
            )
            for pid in pids
        ),
    )
    from ketaclinic.core.protocols import get_protocol

    protocol = get_protocol("iv-racemic-depression")  # the course's snapshot, as do_start_course stores it
    snapshot = json.dumps(dict(protocol.raw))
    _copy(
        TreatmentCourse._meta.db_table,
        (
            "clinic_id",
            "patient_id",
            "protocol_id",
            "protocol_version",
            "protocol_snapshot",
            "indication",
            "status",
            "rems_patient_enrolled",
            "rems_patient_id",
            "started_by_id",
            "started_at",
            "end_reason",
        ),
        (
            (
                clinic.pk,
                pid,
                protocol.id,
                protocol.version,
                snapshot,
                "Treatment-resistant depression",
                "active",
                False,
                "",
                users[0].pk,
                (now - dt.timedelta(days=370)).isoformat(),
                "",
            )
            for pid in pids
        ),
    )
    course_of = dict(TreatmentCourse.objects.filter(clinic=clinic).values_list("patient_id", "pk"))
    say(f"{patients} patients with weights and courses")

    # A year of discharged sessions per patient, then the live ones (in progress today).
    def past_sessions() -> Iterable[Sequence[Any]]:
        for pid in pids:
            for _ in range(SESSIONS_PER_PATIENT):
                at = now - dt.timedelta(days=rng.uniform(1, 365))
                yield (
                    clinic.pk,
                    site_of[pid],
                    pid,
                    course_of[pid],
                    "discharged",
                    at.isoformat(),
                    at.isoformat(),
                    (at + dt.timedelta(minutes=15)).isoformat(),
                    (at + dt.timedelta(minutes=55)).isoformat(),
                    (at + dt.timedelta(hours=2)).isoformat(),
                    users[0].pk,
                    "",
                    "",
                    "",
                    False,
                    False,
                    False,
                    False,
                    False,
                    "",
                    created,
                    "",
                )

    cols = (
        "clinic_id",
        "site_id",
        "patient_id",
        "course_id",
        "status",
        "scheduled_for",
        "checked_in_at",
        "first_dose_at",
        "dose_ended_at",
        "discharged_at",
        "discharged_by_id",
        "escort_name",
        "bp_attestation_reason",
        "notes",
        "fasting_confirmed",
        "transport_confirmed",
        "rems_enrolment_verified",
        "infusion_paused",
        "escort_present",
        "pregnancy_test",
        "created_at",
        "dose_end_reason",
    )
    _copy(DosingSession._meta.db_table, cols, past_sessions())
    live: list[dict[str, Any]] = []
    for k in range(live_sessions):
        pid = pids[k]
        s = DosingSession.objects.create(
            clinic=clinic,
            site_id=site_of[pid],
            patient_id=pid,
            course_id=course_of[pid],
            status=DosingSession.Status.MONITORING,
            scheduled_for=now - dt.timedelta(minutes=70),
            checked_in_at=now - dt.timedelta(minutes=60),
            first_dose_at=now - dt.timedelta(minutes=45),
        )
        raw = Device.new_token()
        d = Device.objects.create(
            clinic=clinic,
            site_id=site_of[pid],
            label=f"Bench wrist {k + 1}",
            serial=f"BENCH-{seed}-{k + 1:04d}",
            token_prefix=raw[:12],
            token_digest=Device.digest_of(raw),
            token_issued_at=now,
            registered_by=users[0],
            registered_at=now,
        )
        DeviceAttachment.objects.create(device=d, session=s, attached_at=now, attached_by=users[0])
        live.append({"session": s.pk, "device": d.pk, "site": d.site_id, "patient": pid, "token": raw})
    session_rows = [
        (pk, pid, first)
        for pk, pid, first in DosingSession.objects.filter(clinic=clinic, status="discharged").values_list(
            "pk", "patient_id", "first_dose_at"
        )
        if first is not None  # every generated discharged session was dosed
    ]
    say(f"{len(session_rows)} past sessions, {live_sessions} in progress with sensors")

    # Scores: the heavy patient first, then spread over everyone.
    pool = _score_pool(rng)
    n_scores = int(observations * SCORE_SHARE)
    heavy = pids[-1]
    heavy_n = min(heavy_scores, n_scores)

    def score_rows() -> Iterable[Sequence[Any]]:
        for j in range(n_scores):
            pid = heavy if j < heavy_n else pids[rng.randrange(len(pids))]
            iid = INSTRUMENTS[j % 2]
            ans, complete, total, sev, flags, risk, qr, obs = pool[iid][rng.randrange(POOL)]
            at = (now - dt.timedelta(days=rng.uniform(0.5, 365))).isoformat()
            yield (
                clinic.pk,
                pid,
                iid,
                "1.0",
                "pre_dose",
                at,
                ans,
                complete,
                total,
                sev,
                flags,
                risk,
                "staff",
                users[j % len(users)].pk,
                qr,
                obs,
                created,
            )

    version = {iid: load_instrument(iid).version for iid in INSTRUMENTS}
    _copy(
        Assessment._meta.db_table,
        (
            "clinic_id",
            "patient_id",
            "instrument_id",
            "instrument_version",
            "context",
            "assessed_at",
            "answers",
            "complete",
            "total",
            "severity",
            "flags",
            "suicide_risk",
            "source",
            "recorded_by_id",
            "fhir_response",
            "fhir_observation",
            "created_at",
        ),
        ((*r[:3], version[r[2]], *r[4:]) for r in score_rows()),
    )
    say(f"{n_scores} scores ({heavy_n} for patient {heavy})")

    # Sensor readings: 5 metrics at 1 Hz during past sessions (one device per site stands in for the wearables).
    n_sensor = observations - n_scores
    devices = {
        site.pk: Device.objects.create(
            clinic=clinic,
            site=site,
            label="Bench history wrist",
            serial=f"BENCH-{seed}-H{site.pk}",
            token_prefix="kcd_history",
            token_digest=Device.digest_of(Device.new_token()),
            token_issued_at=now,
            registered_by=users[0],
            registered_at=now,
        ).pk
        for site in sites
    }

    def sensor_rows() -> Iterable[Sequence[Any]]:
        made, seq = 0, 0
        recv = created
        while made < n_sensor and session_rows:
            sid, pid, first = session_rows[rng.randrange(len(session_rows))]
            dev = devices[site_of[pid]]
            for tick in range(min(600, (n_sensor - made) // 5 + 1)):
                at = (first + dt.timedelta(seconds=tick)).isoformat()
                for metric, code, unit, mean, sd in SENSOR_METRICS:
                    if made >= n_sensor:
                        return
                    seq += 1
                    made += 1
                    yield (dev, sid, metric, code, round(rng.gauss(mean, sd), 1), unit, at, seq, recv)

    _copy(
        SensorReading._meta.db_table,
        ("device_id", "session_id", "metric", "code", "value", "unit", "measured_at", "seq", "received_at"),
        sensor_rows(),
    )
    say(f"{n_sensor} sensor readings")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    return DatasetSummary(
        clinic_id=clinic.pk,
        clinic_slug=slug,
        site_ids=[s.pk for s in sites],
        usernames=usernames,
        password=password,
        patients=patients,
        sessions=len(session_rows) + live_sessions,
        scores=n_scores,
        sensor_readings=n_sensor,
        heavy_patient_id=heavy,
        live_sessions=live,
        seconds=time.monotonic() - started,
    )


def manifest_json(summary: DatasetSummary) -> str:
    """The manifest the benches read (contains device tokens and the staff password: keep it private)."""
    buf = io.StringIO()
    json.dump(summary.as_dict(), buf, indent=2)
    return buf.getvalue()
