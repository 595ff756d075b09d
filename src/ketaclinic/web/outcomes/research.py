"""The de-identified research extract: one row per score of each treatment course (CSV or Parquet), and a data
dictionary.

De-identification follows the HIPAA Safe Harbor list (45 CFR 164.514(b)(2)): no names, record numbers, contact
details, addresses below the state, device or record identifiers, free text, or dates of birth. Subjects get a
random identifier that is new in every extract. Every date of a subject is shifted by one random whole number of
days (-182 to +182, the same for all of that subject's dates, so intervals are kept); the exact days since the
first dose are given as well. Ages above 89 are reported as "90+".
"""

from __future__ import annotations

import csv
import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.outcomes import CohortPatient, Score, cohort_instrument_ids, cohort_rules, split_scores
from ketaclinic.core.outcomes.cohort import exact_total
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.outcomes.models import ExportJob

MAX_SHIFT_DAYS = 182
AGE_TOP = 89  # ages above are grouped as "90+" (Safe Harbor)

COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "subject_id",
        "text",
        "Random identifier of the patient, new in every extract; not derived from any record",
    ),
    (
        "course_number",
        "integer",
        "1 for the patient's first treatment course in this extract, 2 for the next",
    ),
    (
        "age_at_first_dose",
        "text",
        'Whole years at the first dose (at the course start if not dosed); "90+" above 89',
    ),
    ("sex_at_birth", "code", "female, male, intersex, unknown"),
    (
        "jurisdiction",
        "code",
        "State or country of the site of the first dose (e.g. US-CA, UK), never smaller",
    ),
    ("indication", "code", "The course's indication code (e.g. trd = treatment-resistant depression)"),
    ("protocol", "code", "The protocol identifier of the course"),
    ("route", "code", "Route of the first dose: iv, im, intranasal, oral, sublingual; empty if not dosed"),
    ("sessions", "integer", "Dosing sessions with a dose in the course"),
    (
        "first_dose_date_shifted",
        "date",
        "Date of the first dose, shifted by the subject's offset; empty if none",
    ),
    ("instrument", "code", "Rating scale: phq9, gad7, madrs, qids-sr16, ybocs, pcl5, pain-nrs, ..."),
    ("score_date_shifted", "date", "Date of the score, shifted by the subject's offset"),
    (
        "days_from_first_dose",
        "number",
        "Elapsed days from the first dose to the score (negative before it), 2 decimals",
    ),
    ("total", "number", "The scale total"),
    (
        "is_baseline",
        "boolean",
        "1 if this is the course's baseline: the latest score at or before the first dose, at most 14 days before it",
    ),
    (
        "response",
        "boolean",
        "1 if this score is at least the response reduction below the baseline; empty without a baseline or before the dose",
    ),
    (
        "remission",
        "boolean",
        "1 if this score meets the remission threshold; empty when the scale has none or before the dose",
    ),
)


def _age(birth: dt.date, on: dt.date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return "90+" if years > AGE_TOP else str(years)


def _b(v: bool | None) -> str:
    return "" if v is None else "1" if v else "0"


FORMATS = ("csv", "parquet")
_DAYS = [c[0] for c in COLUMNS].index("days_from_first_dose")


def _csv_cell(v: Any, i: int) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return _b(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if i == _DAYS:
        return f"{v:.2f}"
    return v


def write_csv(path: Any, table: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([c[0] for c in COLUMNS])
        for row in table:
            w.writerow([_csv_cell(v, i) for i, v in enumerate(row)])


def write_parquet(path: Any, table: list[list[Any]]) -> None:
    """The same columns as the CSV, typed (integer, double, date, boolean, string; empty cells null), with each
    column's meaning in its field metadata. Needs pyarrow (`pip install 'ketaclinic[parquet]'`)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # the CSV path needs nothing beyond the standard library
        raise RuntimeError("Parquet needs pyarrow: pip install 'ketaclinic[parquet]'") from exc
    types = {"integer": pa.int64(), "number": pa.float64(), "date": pa.date32(), "boolean": pa.bool_()}
    fields = [
        pa.field(name, types.get(kind, pa.string()), metadata={"type": kind, "meaning": meaning})
        for name, kind, meaning in COLUMNS
    ]
    columns = []
    for i, f in enumerate(fields):
        values = [row[i] for row in table]
        if i == _DAYS:
            values = [None if v is None else round(v, 2) for v in values]
        elif f.type == pa.float64():
            values = [None if v is None else float(v) for v in values]
        columns.append(pa.array(values, type=f.type))
    pq.write_table(pa.Table.from_arrays(columns, schema=pa.schema(fields)), path)


def run_research_export(job: ExportJob, *, progress: Callable[[int, int], None] | None = None) -> ExportJob:
    """Write research.csv and data_dictionary.csv for the job's clinic."""
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.clinics.models import Site
    from ketaclinic.web.outcomes.exports import _set, export_dir
    from ketaclinic.web.outcomes.selectors import OutcomeFilters, cohort_courses
    from ketaclinic.web.patients.models import Patient
    from ketaclinic.web.treatment.models import DosingSession

    out = export_dir(job)
    out.mkdir(parents=True, exist_ok=True)
    _set(job, status=ExportJob.Status.RUNNING, transaction_time=timezone.now())
    rng = secrets.SystemRandom()
    instruments = cohort_instrument_ids()
    courses = list(
        cohort_courses(clinic=job.clinic, filters=OutcomeFilters())
        .order_by("patient_id", "started_at", "pk")
        .values(
            "pk",
            "patient_id",
            "started_at",
            "indication",
            "protocol_id",
            "first_dose",
            "first_site",
            "first_route",
        )
    )
    sessions: dict[int, int] = defaultdict(int)
    for cid in DosingSession.objects.filter(clinic=job.clinic, first_dose_at__isnull=False).values_list(
        "course_id", flat=True
    ):
        sessions[cid] += 1
    sites = {s.pk: s.jurisdiction for s in Site.objects.filter(clinic=job.clinic)}
    patients = {
        p.pk: p
        for p in Patient.objects.filter(clinic=job.clinic)
        .select_related("home_site")
        .only("pk", "birth_date", "sex_at_birth", "home_site__jurisdiction")
    }
    scores: dict[tuple[int, str], list[Score]] = defaultdict(list)
    for pid, iid, at, total in (
        Assessment.objects.filter(
            clinic=job.clinic, complete=True, total__isnull=False, instrument_id__in=instruments
        )
        .order_by("assessed_at", "pk")
        .values_list("patient_id", "instrument_id", "assessed_at", "total")
    ):
        if total is not None:  # excluded by the query; the column itself is nullable
            scores[(pid, iid)].append(Score(at=at, total=exact_total(total)))
    subject: dict[int, tuple[str, dt.timedelta]] = {}
    course_no: dict[int, int] = defaultdict(int)
    rows = 0
    total_courses = len(courses)
    tz = timezone.get_current_timezone()
    table: list[list[Any]] = []
    for n, c in enumerate(courses, start=1):
        pid = c["patient_id"]
        p = patients[pid]
        if pid not in subject:
            subject[pid] = (
                f"S{secrets.token_hex(5)}",
                dt.timedelta(days=rng.randint(-MAX_SHIFT_DAYS, MAX_SHIFT_DAYS)),
            )
        sid, shift = subject[pid]
        course_no[pid] += 1
        fd: dt.datetime | None = c["first_dose"]
        anchor = (fd or c["started_at"]).astimezone(tz).date()
        juris = sites.get(c["first_site"]) or (p.home_site.jurisdiction if p.home_site else "")
        common = [
            sid,
            course_no[pid],
            _age(p.birth_date, anchor),
            p.sex_at_birth,
            juris,
            c["indication"],
            c["protocol_id"],
            c["first_route"] or "",
            sessions.get(c["pk"], 0),
            ((fd + shift).astimezone(tz).date() if fd else None),
        ]
        for iid in instruments:
            series = scores.get((pid, iid))
            if not series:
                continue
            rules = cohort_rules(iid)
            baseline, _post = split_scores(CohortPatient(id=pid, first_dose=fd, scores=tuple(series)), rules)
            for s in series:
                after = fd is not None and s.at > fd
                days = None if fd is None else (s.at - fd).total_seconds() / 86400
                table.append(
                    [
                        *common,
                        iid,
                        (s.at + shift).astimezone(tz).date(),
                        days,
                        int(s.total) if s.total.denominator == 1 else float(s.total),
                        s is baseline,
                        (
                            rules.responds(baseline.total, s.total)
                            if (after and baseline is not None)
                            else None
                        ),
                        rules.remits(s.total) if after else None,
                    ]
                )
                rows += 1
        if n % 200 == 0 or n == total_courses:
            _set(job, progress=int(100 * n / total_courses))  # also the job's heartbeat
            if progress is not None:
                progress(n, total_courses)
    fmt = job.params.get("format", "csv")
    data_file = "research.parquet" if fmt == "parquet" else "research.csv"
    if fmt == "parquet":
        write_parquet(out / data_file, table)
    else:
        write_csv(out / data_file, table)
    with (out / "data_dictionary.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["column", "type", "meaning"])
        for name, kind, meaning in COLUMNS:
            w.writerow([name, kind, meaning])
    output = [
        {"type": "research", "file": data_file, "count": rows},
        {"type": "data_dictionary", "file": "data_dictionary.csv", "count": len(COLUMNS)},
    ]
    with transaction.atomic():
        _set(job, status=ExportJob.Status.COMPLETE, progress=100, completed_at=timezone.now(), output=output)
        record_audit(
            actor=job.requested_by,
            action=AuditAction.RESEARCH_EXTRACT_COMPLETE,
            clinic=job.clinic,
            detail={"job": str(job.id), "rows": rows, "subjects": len(subject), "courses": total_courses},
        )
    return job
