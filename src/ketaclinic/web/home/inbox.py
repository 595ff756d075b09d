"""Reads of the alert inbox: every open alert of a clinic the user may see, as one list, and the nav count.

The kinds: suicide-risk alerts (assessments), session alerts (vitals and sedation thresholds on the run sheet),
sensor alerts (monitoring) and long-term safety alerts (surveillance, computed from the records and open until a
prescriber records a decision). Reads only; acknowledging is `home.actions.do_acknowledge_inbox_alert`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.urls import reverse

from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient

#: Kinds in the order a filter lists them, with the words people read.
KIND_LABELS: dict[str, str] = {
    "suicide_risk": "Suicide risk",
    "session": "Session (vitals or sedation)",
    "sensor": "Sensor (live monitoring)",
    "safety": "Long-term safety",
}
SEVERITY_LABELS: dict[str, str] = {"critical": "Urgent", "warning": "Warning"}
SEVERITY_RANK = {"critical": 0, "warning": 1}

#: What a person did about a session or sensor alert (no default: one must be chosen).
BEDSIDE_ACTIONS: list[tuple[str, str]] = [
    ("reassessed", "Reassessed the patient"),
    ("sensor_repositioned", "Repositioned or checked the sensor"),
    ("infusion_paused", "Paused the infusion"),
    ("treated", "Gave treatment (see note)"),
    ("prescriber_called", "Called the prescriber"),
    ("artefact", "No action: artefact"),
    ("other", "Other (see note)"),
]
#: Bedside actions that need a note saying what was done.
NOTE_REQUIRED = frozenset({"treated", "other"})


@dataclass(frozen=True)
class InboxAlert:
    """One open alert as the inbox shows it."""

    kind: str
    #: The alert's id (suicide, session, sensor) or the surveillance alert's code (safety, with the patient).
    ref: str
    patient: Patient
    severity: str
    title: str
    detail: str
    #: When it was raised; for a safety alert, the time of its newest evidence (None when unknown).
    raised_at: dt.datetime | None
    act_url: str
    act_label: str
    #: The actions one may record, empty when the user may see but not acknowledge this alert.
    actions: list[tuple[str, str]] = field(default_factory=list)
    note_required: frozenset[str] = frozenset()

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS[self.severity]

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.patient.pk}-{self.ref}"


def _may(user: Any, clinic: Clinic, perm: Perm) -> bool:
    return has_perm_in_clinic(user, clinic, perm)


def _suicide_alerts(clinic: Clinic) -> QuerySet[Any]:
    from ketaclinic.web.assessments.models import SuicideAlert

    return SuicideAlert.objects.filter(clinic=clinic, acknowledged_at__isnull=True)


def _session_alerts(clinic: Clinic) -> QuerySet[Any]:
    from ketaclinic.web.treatment.models import SessionAlert

    return SessionAlert.objects.filter(session__clinic=clinic, acknowledged_at__isnull=True)


def _sensor_alerts(clinic: Clinic) -> QuerySet[Any]:
    from ketaclinic.web.monitoring.models import MonitoringAlert

    return MonitoringAlert.objects.filter(session__clinic=clinic, acknowledged_at__isnull=True)


def open_alert_count(user: Any, clinic: Clinic | None) -> int:
    """The nav's count: open suicide-risk, session and sensor alerts of the clinic the user may see (one COUNT
    query over the three tables, none without clinical access). Long-term safety alerts are computed from the records, too
    costly for every page: the inbox lists them and the home page counts them."""
    if clinic is None or not _may(user, clinic, Perm.CLINICAL_VIEW):
        return 0
    parts = [_suicide_alerts(clinic), _session_alerts(clinic), _sensor_alerts(clinic)]
    pks = [qs.order_by().values_list("pk", flat=True) for qs in parts]
    return pks[0].union(pks[1], pks[2], all=True).count()


def _safety_alerts(user: Any, clinic: Clinic, may_decide: bool) -> list[InboxAlert]:
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.surveillance.models import LabResult, SurveillanceDecision
    from ketaclinic.web.surveillance.selectors import ALERT_LABELS, clinic_watchlist
    from ketaclinic.web.treatment.models import Administration, DosingSession

    rows = [(p, f) for p, ev in clinic_watchlist(clinic) for f in ev.open_alerts]
    # The age of a computed alert: the time of its newest evidence (labs, questionnaires, doses).
    refs = {r for _, f in rows for r in f.evidence}
    ids: dict[str, list[int]] = {"lab": [], "qr": [], "dose": []}
    for r in refs:
        if r.startswith("Observation/lab-"):
            ids["lab"].append(int(r.removeprefix("Observation/lab-")))
        elif r.startswith("QuestionnaireResponse/"):
            ids["qr"].append(int(r.removeprefix("QuestionnaireResponse/")))
        elif r.startswith("MedicationAdministration/"):
            ids["dose"].append(int(r.removeprefix("MedicationAdministration/")))
        elif r.startswith("Appointment/"):
            ids["appt"] = [*ids.get("appt", []), int(r.removeprefix("Appointment/"))]
    when: dict[str, dt.datetime] = {}
    for pk, at in LabResult.objects.filter(pk__in=ids["lab"]).values_list("pk", "taken_at"):
        when[f"Observation/lab-{pk}"] = at
    for pk, at in Assessment.objects.filter(pk__in=ids["qr"]).values_list("pk", "assessed_at"):
        when[f"QuestionnaireResponse/{pk}"] = at
    for pk, at in Administration.objects.filter(pk__in=ids["dose"]).values_list("pk", "administered_at"):
        when[f"MedicationAdministration/{pk}"] = at
    for pk, at in DosingSession.objects.filter(pk__in=ids.get("appt", [])).values_list("pk", "created_at"):
        when[f"Appointment/{pk}"] = at  # an early request is as old as its booking
    choices = (
        [(str(v), str(label)) for v, label in SurveillanceDecision.Decision.choices] if may_decide else []
    )
    out = []
    for p, f in rows:
        times = [when[r] for r in f.evidence if r in when]
        out.append(
            InboxAlert(
                kind="safety",
                ref=f.code,
                patient=p,
                severity="warning",
                title=ALERT_LABELS.get(f.code, f.code.replace("_", " ").capitalize()),
                detail=f.message,
                raised_at=max(times) if times else None,
                act_url=reverse("surveillance:chart_tab", kwargs={"patient_id": p.pk}),
                act_label="Open the Safety tab",
                actions=choices,
                note_required=frozenset(v for v, _ in choices),
            )
        )
    return out


def inbox_alerts(user: Any, clinic: Clinic, *, kind: str = "", severity: str = "") -> list[InboxAlert]:
    """Every open alert of `clinic` that `user` may see, the most severe first and, within a severity, the
    oldest first. `kind` and `severity` filter (empty: all). A user without clinical access sees none."""
    if clinic is None or not _may(user, clinic, Perm.CLINICAL_VIEW):
        return []
    may_ack = _may(user, clinic, Perm.ALERT_ACKNOWLEDGE)
    may_bedside = may_ack or _may(user, clinic, Perm.SESSION_RUN)
    out: list[InboxAlert] = []
    if kind in ("", "suicide_risk"):
        from ketaclinic.web.assessments.models import SuicideAlert

        choices = [(str(v), str(label)) for v, label in SuicideAlert.Action.choices] if may_ack else []
        for a in _suicide_alerts(clinic).select_related("patient", "assessment"):
            out.append(
                InboxAlert(
                    kind="suicide_risk",
                    ref=str(a.pk),
                    patient=a.patient,
                    severity="critical",
                    title="Suicide risk on a questionnaire",
                    detail=" ".join(str(r) for r in a.reasons),
                    raised_at=a.raised_at,
                    act_url=reverse("assessments:chart_tab", kwargs={"patient_id": a.patient_id}),
                    act_label="Open the assessments",
                    actions=choices,
                    note_required=frozenset(v for v, _ in choices),
                )
            )
    bedside = BEDSIDE_ACTIONS if may_bedside else []
    if kind in ("", "session"):
        for s in _session_alerts(clinic).select_related("session__patient"):
            out.append(
                InboxAlert(
                    kind="session",
                    ref=str(s.pk),
                    patient=s.session.patient,
                    severity="critical" if s.level == "critical" else "warning",
                    title="Session alert",
                    detail=s.message,
                    raised_at=s.raised_at,
                    act_url=reverse("treatment:session", kwargs={"session_id": s.session_id}),
                    act_label="Open the run sheet",
                    actions=bedside,
                    note_required=NOTE_REQUIRED if bedside else frozenset(),
                )
            )
    if kind in ("", "sensor"):
        for m in _sensor_alerts(clinic).select_related("session__patient"):
            out.append(
                InboxAlert(
                    kind="sensor",
                    ref=str(m.pk),
                    patient=m.session.patient,
                    severity="critical" if m.severity == "critical" else "warning",
                    title="Sensor alert" + (" (escalated)" if m.escalated_at else ""),
                    detail=m.message,
                    raised_at=m.raised_at,
                    act_url=reverse("monitoring:site_board", kwargs={"site_id": m.site_id}),
                    act_label="Open the live board",
                    actions=bedside,
                    note_required=NOTE_REQUIRED if bedside else frozenset(),
                )
            )
    if kind in ("", "safety"):
        out.extend(_safety_alerts(user, clinic, may_ack))
    if severity:
        out = [a for a in out if a.severity == severity]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    out.sort(key=lambda a: (SEVERITY_RANK[a.severity], a.raised_at or far, a.kind, a.patient.pk, a.ref))
    return out
