"""Reads of this domain: assessments, trends, outcomes, remote links and suicide-risk alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from ketaclinic.core.instruments import INSTRUMENT_IDS, Instrument, load_instrument
from ketaclinic.core.instruments.outcomes import Outcome, ScorePoint, assess_outcome
from ketaclinic.web.assessments.models import Assessment, RemoteLink, RemoteSchedule, SuicideAlert
from ketaclinic.web.assessments.providers import dose_times

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient


def assessments_for_patient(patient: Patient, *, instrument_id: str | None = None) -> QuerySet[Assessment]:
    qs = Assessment.objects.filter(patient=patient).select_related("recorded_by")
    if instrument_id:
        qs = qs.filter(instrument_id=instrument_id)
    return qs.order_by("-assessed_at", "-pk")


#: Columns a chart row or a trend point needs: never the answers or the FHIR documents (JSON parsed per row).
_ROW_FIELDS = ("id", "patient_id", "instrument_id", "instrument_version", "context", "assessed_at", "complete",
               "total", "severity", "flags", "suicide_risk", "source")  # fmt: skip
_TREND_FIELDS = ("id", "patient_id", "instrument_id", "assessed_at", "complete", "total")


def assessment_rows_for_patient(patient: Patient) -> QuerySet[Assessment]:
    """The chart's assessment list: newest first, only the columns the list shows."""
    return Assessment.objects.filter(patient=patient).only(*_ROW_FIELDS).order_by("-assessed_at", "-pk")


def has_unacknowledged_suicide_alert(patient: Patient) -> bool:
    """True while any suicide-risk alert for `patient` awaits a prescriber's documented acknowledgement."""
    return SuicideAlert.objects.filter(patient=patient, acknowledged_at__isnull=True).exists()


def alerts_for_patient(patient: Patient) -> QuerySet[SuicideAlert]:
    return SuicideAlert.objects.filter(patient=patient).select_related("assessment", "acknowledged_by")


def links_for_patient(patient: Patient) -> QuerySet[RemoteLink]:
    return RemoteLink.objects.filter(patient=patient).order_by("-created_at", "-pk")


def schedules_for_patient(patient: Patient) -> QuerySet[RemoteSchedule]:
    return RemoteSchedule.objects.filter(patient=patient).order_by("pk")


@dataclass(frozen=True)
class InstrumentTrend:
    definition: Instrument
    assessments: list[Assessment]  # complete ones, oldest first
    incomplete: list[Assessment]
    outcome: Outcome


def trends_for_patient(patient: Patient) -> list[InstrumentTrend]:
    """One trend per instrument the patient has any assessment of, in library order."""
    doses = dose_times(patient)
    first_dose = doses[0] if doses else None
    rows = list(Assessment.objects.filter(patient=patient).only(*_TREND_FIELDS).order_by("assessed_at", "pk"))
    out: list[InstrumentTrend] = []
    for iid in INSTRUMENT_IDS:
        mine = [a for a in rows if a.instrument_id == iid]
        if not mine:
            continue
        complete = [a for a in mine if a.complete and a.total is not None]
        series = [ScorePoint(at=a.assessed_at, total=a.total) for a in complete if a.total is not None]
        out.append(
            InstrumentTrend(
                definition=load_instrument(iid),
                assessments=complete,
                incomplete=[a for a in mine if not a.complete],
                outcome=assess_outcome(iid, series, first_dose),
            )
        )
    return out


def suicide_alert_banners(patient: Patient) -> list[dict[str, str]]:
    """Banner provider for the chart header: one danger banner while any alert is unacknowledged."""
    from django.urls import reverse

    n = SuicideAlert.objects.filter(patient=patient, acknowledged_at__isnull=True).count()
    if not n:
        return []
    return [
        {
            "level": "danger",
            "text": f"Suicide-risk alert{'s' if n > 1 else ''} awaiting a prescriber's acknowledgement ({n}). "
            "Dosing is blocked until acknowledged with a documented action.",
            "url": reverse("assessments:chart_tab", kwargs={"patient_id": patient.pk}) + "#alerts",
        }
    ]


def assessment_json(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "patient_id": a.patient_id,
        "instrument": a.instrument_id,
        "version": a.instrument_version,
        "context": a.context,
        "assessed_at": a.assessed_at.isoformat(),
        "answers": a.answers,
        "complete": a.complete,
        "total": a.total,
        "severity": a.severity or None,
        "flags": a.flags,
        "suicide_risk": a.suicide_risk,
        "source": a.source,
        "recorded_by": a.recorded_by_id,
    }


def suicide_alert_banner_facts(patient: Patient, session: Any = None) -> dict[str, Any]:
    """Patient-banner facts: how many suicide-risk alerts await a prescriber's acknowledgement (1 query)."""
    return {"open_alerts": SuicideAlert.objects.filter(patient=patient, acknowledged_at__isnull=True).count()}
