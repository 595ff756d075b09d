"""Reads of the role home page: one selector per section, each returning what a role acts on first, with links.

A user sees the sections of every role they hold in the active clinic (`sections_for`), each once. Every
selector runs a fixed number of queries whatever the clinic's size (the trends one reads the scores of the
clinic's active courses in one query).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from ketaclinic.web.accounts.roles import ROLE_LABELS, Role

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic

ROLE_VALUES = frozenset(r.value for r in Role)

#: How many items a section lists (its count is always the full one; a link leads to the rest).
SHOWN = 8


@dataclass(frozen=True)
class Item:
    text: str
    url: str
    meta: str = ""
    level: str = ""  # "danger" | "warn" | "" (a word always says the same; colour is never the only signal)
    #: Start of the running stage: the page shows the minutes since then and keeps counting (home.js).
    since: dt.datetime | None = None

    @property
    def elapsed_min(self) -> int | None:
        return (
            None if self.since is None else max(0, int((timezone.now() - self.since).total_seconds() // 60))
        )


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    count: int
    items: list[Item]
    empty: str
    more_url: str = ""
    more_label: str = ""
    groups: list[tuple[str, list[Item]]] = field(default_factory=list)


def _when(t: dt.datetime) -> str:
    return timezone.localtime(t).strftime("%-d %b %Y, %H:%M")


# ------------------------------------------------------------------------------------------- prescriber


def alerts_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.home.inbox import inbox_alerts

    alerts = inbox_alerts(user, clinic)
    items = [
        Item(
            text=f"{a.title} — {a.patient.full_name}",
            url=a.act_url,
            meta=(f"{a.kind_label}, raised {_when(a.raised_at)}" if a.raised_at else a.kind_label),
            level="danger" if a.severity == "critical" else "warn",
        )
        for a in alerts[:SHOWN]
    ]
    return Section(
        "alerts", "Open alerts", len(alerts), items, "No open alerts.",
        reverse("home:alerts"), "All alerts in the inbox",
    )  # fmt: skip


def screening_review_section(user: Any, clinic: Clinic) -> Section:
    """Patients whose latest screening is not eligible and still has a finding without an effective review."""
    from ketaclinic.web.screening.models import FindingReview, ScreeningRun

    latest = (
        ScreeningRun.objects.filter(patient=OuterRef("patient"))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    runs = list(
        ScreeningRun.objects.filter(patient__clinic=clinic, pk=Subquery(latest))
        .exclude(decision="eligible")
        .select_related("patient")
        .order_by("created_at", "pk")
    )
    effective: dict[int, set[str]] = {r.pk: set() for r in runs}
    for run_id, code, kind, cosigned in FindingReview.objects.filter(run__in=runs).values_list(
        "run_id", "finding_code", "kind", "cosigned_at"
    ):
        if kind == FindingReview.Kind.CLEAR_RELATIVE or cosigned is not None:
            effective[run_id].add(code)
    waiting = []
    for r in runs:
        open_findings = [
            f for f in r.findings if f.get("level") != "caution" and str(f.get("code")) not in effective[r.pk]
        ]
        if open_findings:
            waiting.append((r, len(open_findings)))
    items = [
        Item(
            text=r.patient.full_name,
            url=reverse("screening:chart_tab", kwargs={"patient_id": r.patient_id}),
            meta=f"{n} finding{'s' if n != 1 else ''} to review, screened {_when(r.created_at)}",
            level="danger" if r.decision == "ineligible" else "warn",
        )
        for r, n in waiting[:SHOWN]
    ]
    return Section(
        "screening", "Screenings needing review", len(waiting), items, "No screening waits for review."
    )


def cosign_section(user: Any, clinic: Clinic) -> Section:
    """Overrides of absolute screening findings another prescriber must co-sign (not one's own)."""
    from ketaclinic.web.screening.models import FindingReview

    qs = (
        FindingReview.objects.filter(
            run__patient__clinic=clinic, kind=FindingReview.Kind.OVERRIDE_ABSOLUTE, cosigned_at__isnull=True
        )
        .exclude(prescriber=user)
        .select_related("run__patient", "prescriber")
        .order_by("created_at", "pk")
    )
    rows = list(qs[:SHOWN])
    items = [
        Item(
            text=f"{r.run.patient.full_name}: override proposed by {r.prescriber.display_name or r.prescriber}",
            url=reverse("screening:chart_tab", kwargs={"patient_id": r.run.patient_id}),
            meta=f"Proposed {_when(r.created_at)}. Reason: {r.reason[:120]}",
            level="warn",
        )
        for r in rows
    ]
    return Section(
        "cosign",
        "Overrides awaiting your co-signature",
        qs.count(),
        items,
        "No override waits for co-signature.",
    )


def orders_section(user: Any, clinic: Clinic) -> Section:
    """Booked sessions that have no signed dose order yet, the soonest first."""
    from ketaclinic.web.treatment.models import DosingSession

    qs = (
        DosingSession.objects.filter(clinic=clinic, order__isnull=True)
        .exclude(status__in=[DosingSession.Status.CANCELLED, DosingSession.Status.DISCHARGED])
        .select_related("patient")
        .order_by("scheduled_for", "pk")
    )
    items = [
        Item(
            text=s.patient.full_name,
            url=reverse("treatment:chart_tab", kwargs={"patient_id": s.patient_id}),
            meta=f"Session {_when(s.scheduled_for)} has no signed order",
            level="warn" if s.scheduled_for.date() <= timezone.localdate() else "",
        )
        for s in qs[:SHOWN]
    ]
    return Section("orders", "Orders to sign", qs.count(), items, "Every booked session has a signed order.")


def rems_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.treatment.selectors import rems_forms_due, rems_overdue

    qs = rems_forms_due(clinic)
    today = timezone.localdate()
    items = [
        Item(
            text=f.session.patient.full_name,
            url=reverse("treatment:rems_dashboard"),
            meta=("Overdue since " if rems_overdue(f, today) else "Due by ") + f.due_on.strftime("%-d %b %Y"),
            level="danger" if rems_overdue(f, today) else "",
        )
        for f in qs[:SHOWN]
    ]
    return Section(
        "rems", "REMS monitoring forms due or overdue", qs.count(), items, "No REMS form is due.",
        reverse("treatment:rems_dashboard"), "All REMS forms",
    )  # fmt: skip


def trends_section(user: Any, clinic: Clinic) -> Section:
    """Patients on an active course whose latest score after the first dose is worse than baseline (worsening),
    or who have not responded by the end of induction (the outcomes definitions' `induction_days`)."""
    from ketaclinic.core.instruments.outcomes import ScorePoint, assess_outcome
    from ketaclinic.core.outcomes.trajectories import durability_settings
    from ketaclinic.web.assessments.models import Assessment
    from ketaclinic.web.treatment.models import Administration, TreatmentCourse

    induction = dt.timedelta(days=durability_settings().induction_days)
    instruments = tuple(_INSTRUMENT_NAMES)
    active = {
        c.patient_id: c.patient
        for c in TreatmentCourse.objects.filter(
            clinic=clinic, status=TreatmentCourse.Status.ACTIVE
        ).select_related("patient")
    }
    first: dict[int, dt.datetime] = {}
    for pid, at in Administration.objects.filter(session__patient_id__in=list(active)).values_list(
        "session__patient_id", "administered_at"
    ):
        if pid not in first or at < first[pid]:
            first[pid] = at
    series: dict[tuple[int, str], list[ScorePoint]] = {}
    for pid, iid, at, total in (
        Assessment.objects.filter(
            patient_id__in=list(first), instrument_id__in=instruments, complete=True, total__isnull=False
        )
        .order_by("assessed_at", "pk")
        .values_list("patient_id", "instrument_id", "assessed_at", "total")
    ):
        if total is not None:  # excluded by the query; the column itself is nullable
            series.setdefault((pid, iid), []).append(ScorePoint(at=at, total=total))
    flagged: list[tuple[Any, str, str]] = []
    for (pid, iid), points in sorted(series.items(), key=lambda kv: (active[kv[0][0]].family_name, kv[0])):
        o = assess_outcome(iid, points, first[pid])
        if o.baseline is None or o.latest is None or o.change is None:
            continue
        name = _INSTRUMENT_NAMES.get(iid, iid)
        if o.change > 0:
            flagged.append(
                (
                    active[pid],
                    "danger",
                    f"{name} worse than baseline: {o.baseline.total:g} to {o.latest.total:g}",
                )
            )
        elif o.response is False and o.latest.at - first[pid] >= induction:
            flagged.append(
                (
                    active[pid],
                    "warn",
                    f"{name} not responding after induction: {o.baseline.total:g} to {o.latest.total:g}",
                )
            )
    items = [
        Item(
            text=p.full_name,
            url=reverse("assessments:chart_tab", kwargs={"patient_id": p.pk}),
            meta=m,
            level=lv,
        )
        for p, lv, m in flagged[:SHOWN]
    ]
    return Section(
        "trends", "Worsening or not responding", len(flagged), items,
        "No patient on an active course is worsening or not responding.",
    )  # fmt: skip


_INSTRUMENT_NAMES = {
    "phq9": "PHQ-9", "madrs": "MADRS", "qids-sr16": "QIDS-SR16", "gad7": "GAD-7", "ybocs": "Y-BOCS", "pcl5": "PCL-5",
}  # fmt: skip


# ------------------------------------------------------------------------------------------------ nurse


def todays_sessions_section(user: Any, clinic: Clinic, *, clinical: bool = True) -> Section:
    """Today's sessions (and any still running from an earlier day) by site, with status, the time the current
    stage started (a live timer on the page) and open alerts. Without clinical access: time, patient, site."""
    from ketaclinic.web.monitoring.models import MonitoringAlert
    from ketaclinic.web.treatment.models import SessionAlert
    from ketaclinic.web.treatment.selectors import sessions_board

    sessions = sessions_board(clinic)
    ids = [s.pk for s in sessions]
    alerts: dict[int, int] = {}
    if clinical:
        for model in (SessionAlert, MonitoringAlert):
            for row in (
                model.objects.filter(session_id__in=ids, acknowledged_at__isnull=True)
                .values("session_id")
                .annotate(n=Count("pk"))
            ):
                alerts[row["session_id"]] = alerts.get(row["session_id"], 0) + row["n"]
    groups: dict[str, list[Item]] = {}
    for s in sessions:
        site = s.site.name if s.site else "No site set"
        started = s.first_dose_at or s.checked_in_at
        if clinical:
            n = alerts.get(s.pk, 0)
            meta = f"{timezone.localtime(s.scheduled_for):%H:%M %Z} · {s.get_status_display()}"
            if started is not None and s.status not in ("discharged", "scheduled"):
                meta += f" · {'dose started' if s.first_dose_at else 'checked in'} {timezone.localtime(started):%H:%M}"
            if n:
                meta += f" · {n} open alert{'s' if n != 1 else ''}"
            url = reverse("treatment:session", kwargs={"session_id": s.pk})
            level = "danger" if n else ""
        else:
            meta = f"{timezone.localtime(s.scheduled_for):%H:%M %Z}"
            url = reverse("patients:chart", kwargs={"patient_id": s.patient_id})
            level = ""
        running = clinical and started is not None and s.status not in ("discharged", "scheduled")
        groups.setdefault(site, []).append(
            Item(
                text=s.patient.full_name, url=url, meta=meta, level=level, since=started if running else None
            )
        )
    return Section(
        "today", "Today's sessions", len(sessions), [], "No sessions today.",
        reverse("treatment:board") if clinical else "", "The sessions board" if clinical else "",
        groups=sorted(groups.items()),
    )  # fmt: skip


def live_alerts_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.home.inbox import inbox_alerts

    alerts = inbox_alerts(user, clinic, kind="session") + inbox_alerts(user, clinic, kind="sensor")
    alerts.sort(key=lambda a: (a.severity != "critical", a.raised_at))
    items = [
        Item(
            text=a.patient.full_name,
            url=a.act_url,
            meta=f"{a.detail} · raised {_when(a.raised_at)}" if a.raised_at else a.detail,
            level="danger" if a.severity == "critical" else "warn",
        )
        for a in alerts[:SHOWN]
    ]
    return Section(
        "live", "Live session alerts", len(alerts), items, "No open session or sensor alert.",
        reverse("home:alerts") + "?kind=sensor", "Sensor alerts in the inbox",
    )  # fmt: skip


# -------------------------------------------------------------------------------------------- custodian


def _qty(q: Any) -> str:
    return f"{q.normalize():f}" if hasattr(q, "normalize") else f"{q:g}"


def stock_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.ledger.selectors import balances_for_clinic, product_totals

    totals = product_totals(balances_for_clinic(clinic))
    url = reverse("ledger:dashboard")
    items = [
        Item(
            text=p.name,
            url=url,
            meta=f"{_qty(q / p.container_size)} {p.container_label}s on hand ({_qty(p.mg(q))} mg)",
        )
        for p, q in sorted(totals, key=lambda t: (t[0].name, t[0].pk))[:SHOWN]
    ]
    return Section(
        "stock", "Stock on hand", len(totals), items, "No stock on hand.", url, "Controlled substances"
    )


def reconciliation_section(user: Any, clinic: Clinic) -> Section:
    """Sessions whose withdrawn stock is not yet accounted for by administration, waste or return."""
    from ketaclinic.web.ledger.selectors import unreconciled_sessions

    rows = unreconciled_sessions(clinic)
    url = reverse("ledger:dashboard")
    items = [
        Item(
            text=o.patient.full_name if o.patient is not None else "No patient recorded",
            url=url,
            meta=f"{_qty(o.outstanding)} of {_qty(o.withdrawn)} withdrawn from lot {o.lot.lot_number} "
            f"not yet given, wasted or returned (withdrawn {_when(o.withdrawn_at)})",
            level="warn",
        )
        for o in rows[:SHOWN]
    ]
    return Section(
        "reconcile", "Waste and returns to reconcile", len(rows), items, "Every withdrawal is reconciled.", url,
        "Controlled substances",
    )  # fmt: skip


def discrepancy_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.ledger.selectors import open_cases

    qs = open_cases(clinic)
    items = [
        Item(
            text=f"{c.get_kind_display()}: {c.product.name}, lot {c.lot.lot_number}",
            url=reverse("ledger:case", kwargs={"case_id": c.pk}),
            meta=f"Difference {_qty(c.difference)} at {c.location.name}, found {c.discovered_on:%-d %b %Y}",
            level="danger",
        )
        for c in qs[:SHOWN]
    ]
    return Section("cases", "Open discrepancies", qs.count(), items, "No open discrepancy.")


def inventory_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.ledger.selectors import inventory_status

    rows = inventory_status(clinic)
    url = reverse("ledger:inventory")
    due = [r for r in rows if r.due_on is not None]
    items = [
        Item(
            text=r.site.name,
            url=url,
            meta=(("Overdue since " if r.overdue else "Next due by ") + f"{r.due_on:%-d %b %Y}")
            + (f" (last {r.last_on:%-d %b %Y})" if r.last_on else " (none taken yet)"),
            level="danger" if r.overdue else "",
        )
        for r in due
        if r.due_on is not None
    ]
    return Section(
        "inventory", "Inventory due", sum(1 for r in due if r.overdue), items, "No site holds stock yet.", url,
        "Inventory",
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- auditor

#: Audit actions that are exceptions to the ordinary path, with the words an auditor reads.
EXCEPTIONS: dict[str, str] = {
    "access.denied": "Access refused",
    "auth.lockout": "Account locked after failed sign-ins",
    "screening.override_propose": "Screening override proposed",
    "screening.override_cosign": "Screening override co-signed",
    "monitoring.alert.escalate": "Sensor alert escalated (not acknowledged in time)",
    "ledger.case.open": "Ledger discrepancy opened",
    "user.password_reset_forced": "Password reset forced",
    "membership.revoke": "Role removed",
}
EXCEPTION_DAYS = 30


def exceptions_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.audit.selectors import audit_event_list

    since = timezone.localdate() - dt.timedelta(days=EXCEPTION_DAYS)
    qs = audit_event_list(user=user, clinic_id=clinic.pk, since=since).filter(action__in=list(EXCEPTIONS))
    items = [
        Item(
            text=EXCEPTIONS[e.action],
            url=reverse("audit:list") + f"?action={e.action}",
            meta=f"{_when(e.at)} by {e.actor_label}" + (f" · {e.object_repr}" if e.object_repr else ""),
            level="danger" if e.action in ("access.denied", "auth.lockout", "ledger.case.open") else "warn",
        )
        for e in qs[:SHOWN]
    ]
    return Section(
        "exceptions", f"Exceptions in the last {EXCEPTION_DAYS} days", qs.count(), items, "No exceptions recorded.",
        reverse("audit:list"), "The audit trail",
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ admin


def staff_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.accounts.models import Membership

    rows = (
        Membership.objects.filter(clinic=clinic, is_active=True, user__is_active=True)
        .values("role")
        .annotate(n=Count("user", distinct=True))
        .order_by("role")
    )
    url = reverse("clinics:staff")
    items = [
        Item(text=ROLE_LABELS[Role(r["role"])], url=url, meta=f"{r['n']} active")
        for r in rows
        if r["role"] in ROLE_VALUES
    ]
    people = (
        Membership.objects.filter(clinic=clinic, is_active=True, user__is_active=True)
        .values("user")
        .distinct()
    )
    return Section("staff", "Staff", people.count(), items, "No staff yet.", url, "Staff")


def approvals_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.accounts.models import Membership

    qs = (
        Membership.objects.filter(
            clinic=clinic, is_active=True, approval_required=True, approved_at__isnull=True
        )
        .select_related("user", "granted_by")
        .order_by("created_at", "pk")
    )
    url = reverse("clinics:staff")
    items = [
        Item(
            text=f"{m.user.display_name or m.user.username}: {m.get_role_display()}",
            url=url,
            meta=f"Granted by {m.granted_by.display_name or m.granted_by.username if m.granted_by else 'the operator'}"
            f" {_when(m.created_at)}",
            level="warn",
        )
        for m in qs[:SHOWN]
    ]
    return Section(
        "approvals", "Role grants awaiting approval", qs.count(), items, "No role grant waits for approval."
    )


def settings_section(user: Any, clinic: Clinic) -> Section:
    from ketaclinic.web.clinics.models import Site

    sites = list(Site.objects.filter(clinic=clinic).order_by("name"))
    url = reverse("clinics:settings")
    items = [
        Item(text=s.name, url=url, meta=f"{s.city or 'No city set'} · time zone {s.timezone}") for s in sites
    ]
    return Section("settings", "Clinic settings", len(sites), items, "No site yet.", url, "Clinic settings")


# ---------------------------------------------------------------------------------------------- by role

ROLE_SECTIONS: dict[str, list[Callable[[Any, Any], Section]]] = {
    Role.PRESCRIBER: [
        alerts_section, screening_review_section, cosign_section, orders_section, rems_section, trends_section,
    ],
    Role.NURSE: [todays_sessions_section, live_alerts_section],
    Role.CUSTODIAN: [stock_section, reconciliation_section, discrepancy_section, inventory_section],
    Role.AUDITOR: [exceptions_section],
    Role.CLINIC_ADMIN: [staff_section, approvals_section, settings_section],
    Role.FRONT_DESK: [lambda u, c: todays_sessions_section(u, c, clinical=False)],
    Role.THERAPIST: [lambda u, c: todays_sessions_section(u, c, clinical=False)],
}  # fmt: skip


def sections_for(user: Any, clinic: Clinic, roles: set[str]) -> list[Section]:
    """The sections of every role `user` holds in `clinic`, in role order, each section once."""
    out: list[Section] = []
    seen: set[str] = set()
    for role in Role:
        if role.value not in roles:
            continue
        for build in ROLE_SECTIONS.get(role, []):
            s = build(user, clinic)
            if s.key not in seen:
                seen.add(s.key)
                out.append(s)
    return out
