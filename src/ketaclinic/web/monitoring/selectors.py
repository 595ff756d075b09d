"""Reads of this domain: <noun>_<verb> selectors (board snapshot, alerts, sensor rows for the flowsheet)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from ketaclinic.web.clinics.models import Site
from ketaclinic.web.monitoring.models import Device, DeviceAttachment, MonitoringAlert, SensorReading
from ketaclinic.web.treatment.models import DosingSession

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

BOARD_STATES = (
    DosingSession.Status.CHECKED_IN,
    DosingSession.Status.PRE_DOSE_CHECKS,
    DosingSession.Status.DOSING,
    DosingSession.Status.MONITORING,
    DosingSession.Status.DISCHARGE_READY,
)
SPARK_WINDOW = timedelta(seconds=120)
METRICS = ("sbp", "dbp", "hr", "spo2", "rr")


def sessions_on_board(site: Site) -> QuerySet[DosingSession]:
    """Sessions in progress at the site (by the session's site, or by a device of the site attached)."""
    attached = DeviceAttachment.objects.filter(device__site=site, detached_at__isnull=True).values(
        "session_id"
    )
    return (
        DosingSession.objects.filter(clinic_id=site.clinic_id, status__in=BOARD_STATES)
        .filter(Q(site=site) | Q(pk__in=attached))
        .select_related("patient")
        .order_by("checked_in_at", "pk")
    )


def alert_dict(a: MonitoringAlert) -> dict[str, Any]:
    return {
        "id": a.pk,
        "session": a.session_id,
        "rule_id": a.rule_id,
        "severity": a.severity,
        "metric": a.metric,
        "value": a.value,
        "unit": a.unit,
        "message": a.message,
        "source": a.source,
        "fired_at": a.fired_at.isoformat(),
        "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None,
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "ack_action": a.ack_action,
        "escalated_at": a.escalated_at.isoformat() if a.escalated_at else None,
    }


def alerts_for_site(
    site: Site, *, unacknowledged_only: bool = False, limit: int = 200
) -> list[MonitoringAlert]:
    qs = MonitoringAlert.objects.filter(site=site)
    if unacknowledged_only:
        qs = qs.filter(acknowledged_at__isnull=True)
    return list(qs.order_by("-raised_at", "-pk")[:limit])


def board_snapshot(site: Site, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the live board shows at load: sessions, devices, recent vitals, open alerts."""
    now = now or timezone.now()
    sessions = list(sessions_on_board(site))
    ids = [s.pk for s in sessions]
    spark: dict[int, dict[str, list[list[Any]]]] = defaultdict(lambda: {m: [] for m in METRICS})
    for sid, metric, value, at in (
        SensorReading.objects.filter(session_id__in=ids, measured_at__gte=now - SPARK_WINDOW)
        .order_by("measured_at", "pk")
        .values_list("session_id", "metric", "value", "measured_at")
    ):
        if metric in METRICS:
            spark[sid][metric].append([at.isoformat(), value])
    devices: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for att in DeviceAttachment.objects.filter(session_id__in=ids, detached_at__isnull=True).select_related(
        "device"
    ):
        devices[att.session_id].append(
            {"id": att.device_id, "label": att.device.label, "serial": att.device.serial}
        )
    alerts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in (
        MonitoringAlert.objects.filter(session_id__in=ids)
        .filter(Q(acknowledged_at__isnull=True) | Q(cleared_at__isnull=True))
        .order_by("-raised_at", "-pk")
    ):
        alerts[a.session_id].append(alert_dict(a))
    _bedside_alerts(ids, sessions, alerts)
    out = []
    for s in sessions:
        clock_from = s.first_dose_at or s.checked_in_at
        out.append(
            {
                "id": s.pk,
                "patient": {"id": s.patient_id, "name": f"{s.patient.given_name} {s.patient.family_name}".strip(),
                            "mrn": s.patient.mrn},
                "status": s.status,
                "status_label": s.get_status_display(),
                "clock_from": clock_from.isoformat() if clock_from else None,
                "clock_label": "since first dose" if s.first_dose_at else "since check-in",
                "devices": devices.get(s.pk, []),
                "vitals": spark[s.pk],
                "alerts": alerts.get(s.pk, []),
            }
        )  # fmt: skip
    return {"site": {"id": site.pk, "name": site.name}, "now": now.isoformat(), "sessions": out}


def _bedside_alerts(
    ids: list[int], sessions: list[DosingSession], alerts: dict[int, list[dict[str, Any]]]
) -> None:
    """Add the run sheet's own open alerts (manual vitals, sedation scores) and open infusion pauses to the
    board's alerts, in the sensor alerts' shape: the board lists them alike (2 queries)."""
    from django.urls import reverse

    from ketaclinic.web.treatment.actions.charting import session_alert_dict
    from ketaclinic.web.treatment.models import InfusionPause, SessionAlert

    by_id = {s.pk: s for s in sessions}
    for a in SessionAlert.objects.filter(session_id__in=ids, acknowledged_at__isnull=True).order_by(
        "-raised_at", "-pk"
    ):
        alerts[a.session_id].append(session_alert_dict(by_id[a.session_id], a))
    for p in InfusionPause.objects.filter(session_id__in=ids, resumed_at__isnull=True).order_by("-paused_at"):
        alerts[p.session_id].append(
            {
                "id": f"pause-{p.pk}",
                "kind": "pause",
                "session": p.session_id,
                "severity": "warning",
                "message": f"infusion paused ({p.reason})",
                "fired_at": p.paused_at.isoformat(),
                "acknowledged_at": None,
                "run_sheet": reverse("treatment:session", kwargs={"session_id": p.session_id}),
            }
        )


def devices_for_site(site: Site) -> list[dict[str, Any]]:
    rows = []
    current = {
        a.device_id: a
        for a in DeviceAttachment.objects.filter(device__site=site, detached_at__isnull=True).select_related(
            "session__patient"
        )
    }
    for d in Device.objects.filter(site=site).order_by("label", "pk"):
        att = current.get(d.pk)
        rows.append(
            {
                "device": d,
                "attachment": att,
                "session": att.session if att else None,
            }
        )
    return rows


@dataclass(frozen=True, slots=True)
class SensorVitalRow:
    """One flowsheet row summarising sensor readings over an interval (the median of each metric).

    Attribute names match treatment.VitalSign so the flowsheet can list both in one table.
    """

    taken_at: datetime
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None
    respiratory_rate: int | None
    readings: int
    source: str = "sensor"
    device_id: str | None = None


_FIELD = {"sbp": "systolic", "dbp": "diastolic", "hr": "heart_rate", "spo2": "spo2", "rr": "respiratory_rate"}


def sensor_vitals_for_flowsheet(
    session_id: int, *, interval_seconds: int = 300, device_id: int | None = None
) -> list[SensorVitalRow]:
    """Sensor readings of a session as flowsheet rows: one per `interval_seconds`, medians, source=sensor.

    The treatment flowsheet merges these with its manual VitalSign rows (same attribute names), ordered by
    taken_at. Each row is stamped at the end of its interval (the latest reading in it). With `device_id`,
    only that device's readings (the FHIR export gives each Observation one device).
    """
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    buckets: dict[int, dict[str, list[float]]] = {}
    last: dict[int, datetime] = {}
    devices: dict[int, set[int]] = defaultdict(set)
    readings = SensorReading.objects.filter(session_id=session_id, metric__in=list(_FIELD))
    if device_id is not None:
        readings = readings.filter(device_id=device_id)
    for metric, value, at, dev in readings.order_by("measured_at", "pk").values_list(
        "metric", "value", "measured_at", "device_id"
    ):
        b = int(at.timestamp()) // interval_seconds
        buckets.setdefault(b, defaultdict(list))[metric].append(value)
        last[b] = at
        devices[b].add(dev)
    out = []
    for b in sorted(buckets):
        vals = {_FIELD[m]: round(statistics.median(v)) for m, v in buckets[b].items()}
        out.append(
            SensorVitalRow(
                taken_at=last[b],
                systolic=vals.get("systolic"),
                diastolic=vals.get("diastolic"),
                heart_rate=vals.get("heart_rate"),
                spo2=vals.get("spo2"),
                respiratory_rate=vals.get("respiratory_rate"),
                readings=sum(len(v) for v in buckets[b].values()),
                device_id=",".join(str(d) for d in sorted(devices[b])),
            )
        )
    return out


def session_devices(session: DosingSession) -> list[DeviceAttachment]:
    """The devices attached to a session now (open attachments), oldest attachment first."""
    return list(
        DeviceAttachment.objects.filter(session=session, detached_at__isnull=True)
        .select_related("device", "attached_by")
        .order_by("attached_at", "pk")
    )


def attachable_devices(session: DosingSession) -> list[Device]:
    """Devices a nurse can attach to `session`: registered at the session's site (any site of its clinic
    when the session has none), not revoked and not attached to any session."""
    qs = Device.objects.filter(clinic_id=session.clinic_id, revoked_at__isnull=True)
    if session.site_id is not None:
        qs = qs.filter(site_id=session.site_id)
    busy = DeviceAttachment.objects.filter(detached_at__isnull=True).values("device_id")
    return list(qs.exclude(pk__in=busy).order_by("label", "pk"))


def devices_by_id(ids: set[int]) -> dict[int, Device]:
    return {d.pk: d for d in Device.objects.filter(pk__in=ids)}


def sensor_alert_banner_facts(patient: Patient, session: Any = None) -> dict[str, Any]:
    """Patient-banner facts: the patient's sensor alerts not yet acknowledged (1 query)."""
    return {
        "open_alerts": MonitoringAlert.objects.filter(
            session__patient=patient, acknowledged_at__isnull=True
        ).count()
    }
