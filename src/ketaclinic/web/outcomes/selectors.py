"""Reads for the outcomes page: the clinic's cohort as core score series, and safety events per session.

Unit of analysis: one treatment course (a patient with two courses counts twice). A course is enrolled when it
started in the period; its first dose is the earliest dose of its sessions, and it belongs to the site and
route of that first dosed session. Scores are the patient's complete totals on the chosen instrument.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from ketaclinic.core.outcomes import Cohort, CohortPatient, Score
from ketaclinic.core.outcomes.cohort import exact_total
from ketaclinic.core.outcomes.safety import SafetyRate, safety_events
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse


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


def cohort_courses(*, clinic: Any, filters: OutcomeFilters) -> QuerySet[TreatmentCourse]:
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


def clinic_cohort(*, clinic: Any, filters: OutcomeFilters) -> Cohort:
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
        for patient_id, at, total in _score_rows(clinic, filters.instrument, earliest, patient_ids):
            scores[patient_id].append(Score(at=at, total=exact_total(total)))
    return Cohort(
        instrument_id=filters.instrument,
        patients=tuple(
            CohortPatient(id=course_id, first_dose=fd, scores=tuple(scores.get(patient_id, ())))
            for course_id, patient_id, fd in courses
        ),
    )


def _score_rows(
    clinic: Any, instrument: str, earliest: dt.datetime, patient_ids: Any
) -> Iterator[tuple[int, dt.datetime, Any]]:
    """(patient id, time, total) of complete scores, in time order per patient. On PostgreSQL each patient's
    scores travel as one string of "epoch:total" pairs (decoding 200,000 rows value by value dominated the
    page's time); elsewhere through the ORM."""
    from django.db import connection

    from ketaclinic.web.assessments.models import Assessment

    if connection.vendor != "postgresql":
        yield from (
            Assessment.objects.filter(
                clinic=clinic,
                instrument_id=instrument,
                complete=True,
                total__isnull=False,
                assessed_at__gte=earliest,
                patient_id__in=patient_ids,
            )
            .order_by("assessed_at", "pk")
            .values_list("patient_id", "assessed_at", "total")
        )
        return
    sub_sql, sub_params = patient_ids.query.sql_with_params()
    # The subquery is ORM-built and every value is bound.
    sql = (
        "SELECT patient_id, string_agg(EXTRACT(EPOCH FROM assessed_at)::text || ':' || total::text, ','"  # noqa: S608
        " ORDER BY assessed_at, id) FROM assessments_assessment"
        " WHERE clinic_id = %s AND instrument_id = %s AND complete AND total IS NOT NULL AND assessed_at >= %s"
        f" AND patient_id IN ({sub_sql}) GROUP BY patient_id"
    )
    utc = dt.UTC
    with connection.cursor() as cur:
        cur.execute(sql, [clinic.pk, instrument, earliest, *sub_params])
        for patient_id, packed in cur.fetchall():
            for pair in packed.split(","):
                epoch, total = pair.split(":")
                yield (
                    patient_id,
                    dt.datetime.fromtimestamp(float(epoch), utc),
                    (float(total) if "." in total or "e" in total else int(total)),
                )


def _early_terminated(sessions: QuerySet[DosingSession]) -> Q:
    """Cancelled after dosing started, or dosing ended with less than the ordered dose."""
    from ketaclinic.web.treatment.models import Administration

    S = DosingSession.Status
    given = (
        Administration.objects.filter(session=OuterRef("pk"))
        .values("session")
        .annotate(total=Sum("dose_mg"))
        .values("total")[:1]
    )
    short = (
        sessions.filter(status__in=[S.MONITORING, S.DISCHARGE_READY, S.DISCHARGED])
        .annotate(given=Subquery(given))
        .filter(given__lt=F("order__dose_mg"))
    )
    return Q(status=S.CANCELLED) | Q(pk__in=short.values("pk"))


def cohort_safety(*, clinic: Any, filters: OutcomeFilters) -> tuple[int, tuple[SafetyRate, ...]]:
    """(dosed sessions, one rate per safety event) over the cohort's dosed sessions; a session counts once
    per event kind."""
    from ketaclinic.web.treatment.models import Intervention, SessionAlert, SideEffect

    course_ids = cohort_courses(clinic=clinic, filters=filters).values("pk")
    sessions = DosingSession.objects.filter(
        clinic=clinic, course_id__in=course_ids, first_dose_at__isnull=False
    )
    total = sessions.count()
    rates: list[SafetyRate] = []
    for ev in safety_events():
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
        n = sessions.filter(reduce(or_, conds)).count() if total and conds else 0
        rates.append(SafetyRate(event=ev, sessions_with_event=n, sessions=total))
    return total, tuple(rates)
