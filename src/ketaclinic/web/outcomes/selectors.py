"""Reads for the outcomes page: the clinic's cohort as core score series, and safety events per session.

Unit of analysis: one treatment course (a patient with two courses counts twice). A course is enrolled when it
started in the period; its first dose is the earliest dose of its sessions, and it belongs to the site and
route of that first dosed session. Scores are the patient's complete totals on the chosen instrument.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from ketaclinic.core.outcomes import Cohort, CohortPatient, Score
from ketaclinic.core.outcomes.cohort import exact_total
from ketaclinic.core.outcomes.fast import ScoreColumns, from_us
from ketaclinic.core.outcomes.safety import SafetyRate, safety_events
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from ketaclinic.web.clinics.models import Clinic


@dataclass(frozen=True, slots=True)
class OutcomeFilters:
    instrument: str = "phq9"
    indication: str = ""
    protocol: str = ""
    route: str = ""
    site_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def as_detail(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "indication": self.indication,
            "protocol": self.protocol,
            "route": self.route,
            "site": self.site_id,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


class FirstDose(TypedDict):
    """What `cohort_courses` annotates on each course: its first dosed session's time, site and route."""

    first_dose: dt.datetime | None
    first_site: int | None
    first_route: str | None


def cohort_courses(
    *, clinic: Clinic, filters: OutcomeFilters
) -> QuerySet[WithAnnotations[TreatmentCourse, FirstDose]]:
    """The clinic's courses matching the filters, annotated with first dose time, site and route."""
    first = DosingSession.objects.filter(course=OuterRef("pk"), first_dose_at__isnull=False).order_by(
        "first_dose_at", "pk"
    )
    qs = TreatmentCourse.objects.filter(clinic=clinic)
    if filters.indication:
        qs = qs.filter(indication=filters.indication)
    if filters.protocol:
        qs = qs.filter(protocol_id=filters.protocol)
    if filters.since:
        qs = qs.filter(started_at__gte=_start_of(filters.since))
    if filters.until:
        qs = qs.filter(started_at__lt=_start_of(filters.until + dt.timedelta(days=1)))
    qs = qs.annotate(
        first_dose=Subquery(first.values("first_dose_at")[:1]),
        first_site=Subquery(first.values("site_id")[:1]),
        first_route=Subquery(first.values("order__route")[:1]),
    )
    if filters.site_id is not None:
        qs = qs.filter(first_site=filters.site_id)
    if filters.route:
        qs = qs.filter(first_route=filters.route)
    return qs


def clinic_cohort(*, clinic: Clinic, filters: OutcomeFilters) -> Cohort:
    """The filtered courses as a core Cohort (ids are course ids; no identifiers leave this function)."""

    courses = list(
        cohort_courses(clinic=clinic, filters=filters).values_list("pk", "patient_id", "first_dose")
    )
    if not courses:
        return Cohort(instrument_id=filters.instrument, patients=())
    doses = [fd for _, _, fd in courses if fd is not None]
    scores: dict[int, list[Score]] = defaultdict(list)
    if doses:
        # Nothing older than the earliest baseline window can matter.
        earliest = min(doses) - dt.timedelta(days=14)
        patient_ids = cohort_courses(clinic=clinic, filters=filters).values("patient_id")
        pats, at_us, totals = _score_columns(clinic, filters.instrument, earliest, patient_ids)
        for patient_id, at, total in zip(pats.tolist(), at_us.tolist(), totals.tolist(), strict=True):
            scores[patient_id].append(Score(at=from_us(at), total=exact_total(total)))
    return Cohort(
        instrument_id=filters.instrument,
        patients=tuple(
            CohortPatient(id=course_id, first_dose=fd, scores=tuple(scores.get(patient_id, ())))
            for course_id, patient_id, fd in courses
        ),
    )


def cohort_columns(
    *, clinic: Clinic, filters: OutcomeFilters
) -> tuple[list[int], list[dt.datetime | None], ScoreColumns]:
    """The filtered courses as columns for the vectorised engine (`core.outcomes.fast`): course ids, first
    doses and every course's scores (its patient's, in time order). NotExact when a total is not a whole
    number of hundredths (the caller then uses `clinic_cohort` and the engine)."""
    import numpy as np

    from ketaclinic.core.outcomes.fast import ScoreColumns, hundredths_of

    courses = list(
        cohort_courses(clinic=clinic, filters=filters).values_list("pk", "patient_id", "first_dose")
    )
    ids = [c for c, _, _ in courses]
    fds = [fd for _, _, fd in courses]
    empty = np.zeros(0, dtype=np.int64)
    doses = [fd for fd in fds if fd is not None]
    if not doses:
        return ids, fds, ScoreColumns(unit=empty, at_us=empty, total=empty)
    earliest = min(doses) - dt.timedelta(days=14)
    patient_ids = cohort_courses(clinic=clinic, filters=filters).values("patient_id")
    pats, at_us, totals = _score_columns(clinic, filters.instrument, earliest, patient_ids)
    hundredths = hundredths_of(totals)
    # Each patient's scores are one contiguous run (sorted by patient, time, id); a course takes its patient's.
    uniq, starts, counts = np.unique(pats, return_index=True, return_counts=True)
    where = {int(p): (int(s), int(n)) for p, s, n in zip(uniq, starts, counts, strict=True)}
    parts: list[Any] = []
    units: list[Any] = []
    for u, (_, patient_id, _) in enumerate(courses):
        s, n = where.get(patient_id, (0, 0))
        if n:
            parts.append(np.arange(s, s + n, dtype=np.int64))
            units.append(np.full(n, u, dtype=np.int64))
    if not parts:
        return ids, fds, ScoreColumns(unit=empty, at_us=empty, total=empty)
    take = np.concatenate(parts)
    return (
        ids,
        fds,
        ScoreColumns(
            unit=np.concatenate(units),
            at_us=at_us[take],
            total=hundredths[take],
        ),
    )


def _score_columns(
    clinic: Clinic, instrument: str, earliest: dt.datetime, patient_ids: Any
) -> tuple[Any, Any, Any]:
    """(patient ids, epoch microseconds, totals) of complete scores as numpy arrays, sorted by patient, time,
    id. On PostgreSQL the rows travel as one packed binary value that numpy reads in place (decoding 200,000
    rows value by value dominated the page's time); elsewhere through the ORM."""
    from django.db import connection

    from ketaclinic.core.outcomes.fast import to_us
    from ketaclinic.web.assessments.models import Assessment

    if connection.vendor != "postgresql":
        rows = [
            (pid, at, total)
            for pid, at, total in Assessment.objects.filter(
                clinic=clinic,
                instrument_id=instrument,
                complete=True,
                total__isnull=False,
                assessed_at__gte=earliest,
                patient_id__in=patient_ids,
            )
            .order_by("patient_id", "assessed_at", "pk")
            .values_list("patient_id", "assessed_at", "total")
            if total is not None  # excluded by the query; the column itself is nullable
        ]
        return (
            np.asarray([r[0] for r in rows], dtype=np.int64),
            np.asarray([to_us(r[1]) for r in rows], dtype=np.int64),
            np.asarray([float(r[2]) for r in rows], dtype=np.float64),
        )
    sub_sql, sub_params = patient_ids.query.sql_with_params()
    # The subquery is ORM-built and every value is bound.
    sql = (
        "SELECT string_agg(int8send(patient_id::bigint) || timestamptz_send(assessed_at)"  # noqa: S608
        " || float8send(total::float8), ''::bytea ORDER BY patient_id, assessed_at, id)"
        " FROM assessments_assessment"
        " WHERE clinic_id = %s AND instrument_id = %s AND complete AND total IS NOT NULL AND assessed_at >= %s"
        f" AND patient_id IN ({sub_sql})"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [clinic.pk, instrument, earliest, *sub_params])
        (packed,) = cur.fetchone()
    packed_rows = np.frombuffer(bytes(packed or b""), dtype=_PACKED_ROW)
    return (
        packed_rows["pid"].astype(np.int64),
        packed_rows["at"].astype(np.int64) + _PG_EPOCH_US,
        packed_rows["tot"].astype(np.float64),
    )


# One row per score as PostgreSQL's binary send formats, big-endian: bigint patient id, timestamptz
# (microseconds since 2000-01-01 UTC), float8 total.
_PACKED_ROW = np.dtype([("pid", ">i8"), ("at", ">i8"), ("tot", ">f8")])
_PG_EPOCH_US = 946_684_800 * 1_000_000


def _early_terminated(sessions: QuerySet[DosingSession]) -> Q:
    """Cancelled after dosing started, or dosing ended with less than the ordered dose."""
    from ketaclinic.web.treatment.models import Administration

    S = DosingSession.Status
    # One grouped pass over the administrations (a correlated sum per session was most of the page's SQL).
    short = (
        Administration.objects.filter(
            session__in=sessions.filter(status__in=[S.MONITORING, S.DISCHARGE_READY, S.DISCHARGED]).values(
                "pk"
            )
        )
        .values("session", "session__order__dose_mg")
        .annotate(given=Sum("dose_mg"))
        .filter(given__lt=F("session__order__dose_mg"))
        .values("session")
    )
    return Q(status=S.CANCELLED) | Q(pk__in=short)


def cohort_safety(*, clinic: Clinic, filters: OutcomeFilters) -> tuple[int, tuple[SafetyRate, ...]]:
    """(dosed sessions, one rate per safety event) over the cohort's dosed sessions; a session counts once
    per event kind."""
    from ketaclinic.web.treatment.models import Intervention, SessionAlert, SideEffect

    course_ids = cohort_courses(clinic=clinic, filters=filters).values("pk")
    sessions = DosingSession.objects.filter(
        clinic=clinic, course_id__in=course_ids, first_dose_at__isnull=False
    )
    counts: dict[str, Any] = {"total": Count("pk")}
    kinds = []
    for i, ev in enumerate(safety_events()):
        conds: list[Q | Exists] = []
        if ev.session_alert_codes:
            conds.append(
                Exists(SessionAlert.objects.filter(session=OuterRef("pk"), code__in=ev.session_alert_codes))
            )
        if ev.side_effect_codes:
            side = Exists(SideEffect.objects.filter(session=OuterRef("pk"), code__in=ev.side_effect_codes))
            if ev.requires_intervention:
                conds.append(Q(side) & Q(Exists(Intervention.objects.filter(session=OuterRef("pk")))))
            else:
                conds.append(side)
        if ev.early_termination:
            conds.append(_early_terminated(sessions))
        kinds.append((ev, f"ev{i}" if conds else None))
        if conds:
            counts[f"ev{i}"] = Count(
                "pk", filter=reduce(or_, (c if isinstance(c, Q) else Q(c) for c in conds))
            )
    # One pass over the sessions counts every kind at once.
    got = sessions.aggregate(**counts)
    total = int(got["total"])
    rates = [
        SafetyRate(event=ev, sessions_with_event=int(got[key]) if key else 0, sessions=total)
        for ev, key in kinds
    ]
    return total, tuple(rates)
