"""Long-term safety surveillance: exposure, scheduled screens due/overdue, and alerts, for one patient on a day.

`surveil(history, on, settings)` is pure. Its rules (the shipped defaults in data/schedule.yaml):

* Days are UTC calendar days. A session is a day with at least one dose. Records dated after `on` are
  ignored; results before the first dose count.
* On treatment = a session within the last `on_treatment_days` days (the last day included). A course end
  does not end it.
* While on treatment each schedule item has a date: its latest result's day + its interval, or, with no
  result, its first due day (the first session; for liver enzymes the `first_due_session`-th session, and
  not before). It is `due` from `due_window_days` before that date to the date, `overdue` after it.
* After the course end, each follow-up point (day D, met from day M) has the date end + D and is met by an
  SDS from end + M on; unmet, it is due/overdue by the same window.
* Alerts read the latest result of each kind, whether or not the patient is still on treatment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from ketaclinic.core.surveillance.history import (
    ALT,
    AST,
    URINE_BLOOD,
    AssessmentRecord,
    DoseRecord,
    History,
    ObservationRecord,
    RequestRecord,
    utc_day,
)
from ketaclinic.core.surveillance.settings import (
    AlertRule,
    ScheduleItem,
    SurveillanceSettings,
    default_settings,
)

Level = Literal["due", "overdue", "alert"]
Status = Literal["ok", "due", "overdue", "not_due_yet", "not_on_treatment", "met"]
_EPS = 1e-9
_ENZYME_NAMES = {ALT: "ALT", AST: "AST"}


@dataclass(frozen=True, slots=True)
class Session:
    """A UTC calendar day with at least one dose."""

    day: date
    total_mg: float
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Exposure:
    sessions: int
    total_mg: float
    total_mg_per_kg: float
    first_dose: datetime | None
    last_dose: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "total_mg": self.total_mg,
            "total_mg_per_kg": self.total_mg_per_kg,
            "first_dose": _iso(self.first_dose),
            "last_dose": _iso(self.last_dose),
        }


@dataclass(frozen=True, slots=True)
class SurveillanceFinding:
    code: str
    level: Level
    message: str
    evidence: tuple[str, ...]
    source: str
    #: The schedule item or alert this finding belongs to (e.g. `bladder_screen`, `haematuria`).
    subject: str
    #: The item's date for due/overdue findings.
    due_date: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level,
            "message": self.message,
            "evidence": list(self.evidence),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ItemStatus:
    """Where one schedule item or follow-up stands on the day (for charts and lists)."""

    code: str
    label: str
    status: Status
    due_date: date | None
    last_ref: str | None
    last_day: date | None
    last_value: float | str | None
    interval_days: int | None


@dataclass(frozen=True, slots=True)
class SurveillanceResult:
    on: date
    on_treatment: bool
    exposure: Exposure
    findings: tuple[SurveillanceFinding, ...]
    items: tuple[ItemStatus, ...]
    sessions: tuple[Session, ...]
    schedule_version: str

    def to_dict(self) -> dict[str, Any]:
        """The `ketaclinic surveillance --json` object."""
        return {
            "exposure": self.exposure.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "on": self.on.isoformat(),
            "on_treatment": self.on_treatment,
            "schedule_version": self.schedule_version,
        }

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    @property
    def alerts(self) -> tuple[SurveillanceFinding, ...]:
        return tuple(f for f in self.findings if f.level == "alert")


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sessions_of(doses: Iterable[DoseRecord]) -> tuple[Session, ...]:
    """Group doses into sessions (UTC calendar days), in day order."""
    by_day: dict[date, list[DoseRecord]] = {}
    for d in doses:
        by_day.setdefault(d.day, []).append(d)
    return tuple(
        Session(day=day, total_mg=math.fsum(d.dose_mg for d in ds), refs=tuple(d.ref for d in ds))
        for day, ds in sorted(by_day.items())
    )


def _latest_assessment(
    records: Sequence[AssessmentRecord], instruments: Sequence[str]
) -> AssessmentRecord | None:
    best: AssessmentRecord | None = None
    for r in records:  # input order breaks ties: the later record of the same instant wins
        if r.instrument in instruments and (best is None or r.time >= best.time):
            best = r
    return best


def _latest_observation(
    records: Sequence[ObservationRecord], codes: Sequence[str]
) -> ObservationRecord | None:
    best: ObservationRecord | None = None
    for r in records:
        if r.code in codes and (best is None or r.time >= best.time):
            best = r
    return best


def _fmt(x: float) -> str:
    return f"{x:g}" if x == int(x) else f"{x:.2f}".rstrip("0").rstrip(".")


class _Evaluator:
    def __init__(self, history: History, on: date, settings: SurveillanceSettings) -> None:
        self.on = on
        self.settings = settings
        self.history = history
        self.weight = history.weight_kg
        self.doses = tuple(d for d in history.doses if d.day <= on)
        self.assessments = tuple(a for a in history.assessments if a.day <= on)
        self.observations = tuple(o for o in history.observations if o.day <= on)
        self.course_end = history.course_end if history.course_end and history.course_end <= on else None
        self.sessions = sessions_of(self.doses)
        last = self.sessions[-1].day if self.sessions else None
        self.on_treatment = last is not None and (on - last).days <= settings.on_treatment_days

    # ------------------------------------------------------------------ exposure

    def exposure(self) -> Exposure:
        total = math.fsum(d.dose_mg for d in self.doses)
        times = sorted(d.time for d in self.doses)
        return Exposure(
            sessions=len(self.sessions),
            total_mg=total,
            total_mg_per_kg=total / self.weight,
            first_dose=times[0] if times else None,
            last_dose=times[-1] if times else None,
        )

    # ------------------------------------------------------------------ schedule

    def _window(self, when: date) -> Literal["due", "overdue"] | None:
        if self.on > when:
            return "overdue"
        if self.on >= when - timedelta(days=self.settings.due_window_days):
            return "due"
        return None

    def _item_last(self, item: ScheduleItem) -> tuple[str, date, float | str | None] | None:
        if item.kind == "assessment":
            a = _latest_assessment(self.assessments, item.instruments)
            return None if a is None else (a.ref, a.day, a.total)
        o = _latest_observation(self.observations, item.loinc)
        return None if o is None else (o.ref, o.day, o.value)

    def schedule(self) -> tuple[list[SurveillanceFinding], list[ItemStatus]]:
        findings: list[SurveillanceFinding] = []
        statuses: list[ItemStatus] = []
        for item in self.settings.items:
            last = self._item_last(item)
            first_session = 1 if item.first_due == "first_dose" else (item.first_due_session or 1)
            started = len(self.sessions) >= first_session
            status: Status
            when: date | None = None
            if not self.on_treatment:
                status = "not_on_treatment"
            elif not started:
                status = "not_due_yet"
            else:
                start = self.sessions[first_session - 1]
                if last is not None:
                    when = last[1] + timedelta(days=item.interval_days)
                    evidence: tuple[str, ...] = (last[0],)
                    basis = f"last result {last[1].isoformat()}, every {item.interval_days} days"
                else:
                    when = start.day
                    evidence = start.refs[:1]
                    basis = (
                        "no result yet; first due at the first dose"
                        if first_session == 1
                        else f"no result yet; first due at session {first_session}"
                    )
                level = self._window(when)
                status = "ok" if level is None else level
                if level is not None:
                    verb = "due by" if level == "due" else "overdue since"
                    findings.append(
                        SurveillanceFinding(
                            code=f"{item.code}_{level}",
                            level=level,
                            message=f"{item.label}: {verb} {when.isoformat()} ({basis})",
                            evidence=evidence,
                            source=item.source,
                            subject=item.code,
                            due_date=when,
                        )
                    )
            statuses.append(
                ItemStatus(
                    code=item.code,
                    label=item.label,
                    status=status,
                    due_date=when,
                    last_ref=last[0] if last else None,
                    last_day=last[1] if last else None,
                    last_value=last[2] if last else None,
                    interval_days=item.interval_days,
                )
            )
        f2, s2 = self.followups()
        return findings + f2, statuses + s2

    def followups(self) -> tuple[list[SurveillanceFinding], list[ItemStatus]]:
        fu = self.settings.followups
        end = self.course_end
        if end is None:
            return [], []
        findings: list[SurveillanceFinding] = []
        statuses: list[ItemStatus] = []
        results = [a for a in self.assessments if a.instrument in fu.instruments]
        for p in fu.points:
            when = end + timedelta(days=p.day)
            met_from = end + timedelta(days=p.met_from_day)
            meeting = [a for a in results if a.day >= met_from]
            label = f"{fu.label} {p.day} days after the course ended"
            latest = max(meeting, key=lambda a: a.time) if meeting else None
            status: Status
            if latest is not None:
                status = "met"
            else:
                level = self._window(when)
                status = "ok" if level is None else level
                if level is not None:
                    verb = "due by" if level == "due" else "overdue since"
                    findings.append(
                        SurveillanceFinding(
                            code=f"{fu.code}_{level}",
                            level=level,
                            message=(
                                f"{label}: {verb} {when.isoformat()} (course ended {end.isoformat()}; "
                                f"an SDS from {met_from.isoformat()} on meets it)"
                            ),
                            evidence=("course_end",),
                            source=fu.source,
                            subject=f"{fu.code}_{p.day}",
                            due_date=when,
                        )
                    )
            statuses.append(
                ItemStatus(
                    code=f"{fu.code}_{p.day}",
                    label=label,
                    status=status,
                    due_date=when,
                    last_ref=latest.ref if latest else None,
                    last_day=latest.day if latest else None,
                    last_value=latest.total if latest else None,
                    interval_days=None,
                )
            )
        return findings, statuses

    # ------------------------------------------------------------------ alerts

    def alerts(self) -> list[SurveillanceFinding]:
        checks: dict[str, Callable[[AlertRule], SurveillanceFinding | None]] = {
            "bladder_symptoms": self._alert_bladder_symptoms,
            "haematuria": self._alert_haematuria,
            "liver_enzymes_raised": self._alert_liver_enzymes_raised,
            "dependence_signal": self._alert_dependence_signal,
            "escalation_tolerance": self._alert_escalation_tolerance,
            "early_request": self._alert_early_request,
        }
        found = (checks[rule.code](rule) for rule in self.settings.alerts)
        return [f for f in found if f is not None]

    def _total_alert(self, rule: AlertRule, what: str, meaning: str) -> SurveillanceFinding | None:
        a = _latest_assessment(self.assessments, (rule.instrument or "",))
        threshold = rule.total_at_least
        if a is None or a.total is None or threshold is None or a.total < threshold - _EPS:
            return None
        return SurveillanceFinding(
            code=rule.code,
            level="alert",
            message=(
                f"{what} total {_fmt(a.total)} on {a.day.isoformat()} is at or above {_fmt(threshold)}: {meaning}"
            ),
            evidence=(a.ref,),
            source=rule.source,
            subject=rule.code,
        )

    def _alert_bladder_symptoms(self, rule: AlertRule) -> SurveillanceFinding | None:
        return self._total_alert(
            rule, "BPIC-SS", "moderate to severe bladder symptoms; assess and consider referral to urology"
        )

    def _alert_dependence_signal(self, rule: AlertRule) -> SurveillanceFinding | None:
        return self._total_alert(
            rule, "SDS", "a dependence signal; review and consider referral to addiction services"
        )

    def _alert_haematuria(self, rule: AlertRule) -> SurveillanceFinding | None:
        o = _latest_observation(self.observations, rule.loinc or (URINE_BLOOD,))
        if o is None or not urine_blood_positive(o.value):
            return None
        return SurveillanceFinding(
            code=rule.code,
            level="alert",
            message=(
                f"Urine dipstick positive for blood ({_value_text(o)}) on {o.day.isoformat()}: "
                "repeat, exclude infection and consider referral to urology"
            ),
            evidence=(o.ref,),
            source=rule.source,
            subject=rule.code,
        )

    def _alert_liver_enzymes_raised(self, rule: AlertRule) -> SurveillanceFinding | None:
        factor = rule.times_upper_limit or 3.0
        raised: list[ObservationRecord] = []
        for code in rule.loinc:
            o = _latest_observation(self.observations, (code,))
            if o is None or o.reference_high is None or isinstance(o.value, str):
                continue
            if o.value > factor * o.reference_high + _EPS:
                raised.append(o)
        if not raised:
            return None
        parts = [
            f"{_ENZYME_NAMES.get(o.code, o.code)} {_value_text(o)} on "
            f"{o.day.isoformat()} (above {_fmt(factor)} x the upper limit {_fmt(o.reference_high or 0)})"
            for o in raised
        ]
        return SurveillanceFinding(
            code=rule.code,
            level="alert",
            message="Liver enzymes raised: " + "; ".join(parts) + ". Review before the next dose.",
            evidence=tuple(o.ref for o in raised),
            source=rule.source,
            subject=rule.code,
        )

    def _alert_escalation_tolerance(self, rule: AlertRule) -> SurveillanceFinding | None:
        n = rule.window_sessions or 4
        if len(self.sessions) < (rule.min_sessions or 2 * n):
            return None
        first = self.sessions[:n]
        last = self.sessions[-n:]
        mean_first = math.fsum(s.total_mg for s in first) / n / self.weight
        mean_last = math.fsum(s.total_mg for s in last) / n / self.weight
        ratio = rule.ratio_at_least or 1.25
        if mean_last < ratio * mean_first - _EPS:
            return None
        return SurveillanceFinding(
            code=rule.code,
            level="alert",
            message=(
                f"Dose escalation: mean {mean_last:.2f} mg/kg over the last {n} sessions is "
                f"{mean_last / mean_first:.2f} x the first {n} ({mean_first:.2f} mg/kg; alert at "
                f"{_fmt(ratio)} x). Check for tolerance: is the response flat or falling?"
            ),
            evidence=tuple(s.refs[0] for s in (*first, *last)),
            source=rule.source,
            subject=rule.code,
        )

    def _alert_early_request(self, rule: AlertRule) -> SurveillanceFinding | None:
        """A session booked or requested (for `on` or later) sooner after the latest dose before it than the
        minimum interval (the protocol's, else the schedule's default)."""
        hours = self.history.min_interval_hours or rule.min_interval_hours
        if hours is None:
            return None
        doses = sorted(self.doses, key=lambda d: d.time)
        early: list[tuple[RequestRecord, DoseRecord, float]] = []
        pending = (r for r in self.history.requests if utc_day(r.time) >= self.on)
        for r in sorted(pending, key=lambda r: (r.time, r.ref)):
            before = [d for d in doses if d.time <= r.time]
            if not before:
                continue
            gap = (r.time - before[-1].time).total_seconds() / 3600
            if gap < hours - _EPS:
                early.append((r, before[-1], gap))
        if not early:
            return None
        parts = [
            f"a session for {_utc(r.time)} is {_hours(gap)} after the dose of {_utc(d.time)}"
            for r, d, gap in early
        ]
        return SurveillanceFinding(
            code=rule.code,
            level="alert",
            message=(
                "Session requested early: " + "; ".join(parts) + f" (minimum interval {_hours(hours)}). "
                "Frequent dosing is a risk of dependence: review the request before the session."
            ),
            evidence=tuple(ref for r, d, _ in early for ref in (r.ref, d.ref)),
            source=rule.source,
            subject=rule.code,
        )


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _hours(h: float) -> str:
    return f"{_fmt(round(h, 1))} h"


def urine_blood_positive(value: float | str) -> bool:
    """A urine dipstick blood result is positive unless it reads "negative" or 0."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "negative":
            return False
        try:
            return float(text) != 0
        except ValueError:
            return True
    return value != 0


def _value_text(o: ObservationRecord) -> str:
    v = o.value if isinstance(o.value, str) else _fmt(o.value)
    return f"{v} {o.unit}" if o.unit else str(v)


def surveil(history: History, on: date, settings: SurveillanceSettings | None = None) -> SurveillanceResult:
    """Evaluate long-term safety surveillance for `history` on the UTC day `on`."""
    ev = _Evaluator(history, on, settings or default_settings())
    schedule_findings, items = ev.schedule()
    return SurveillanceResult(
        on=on,
        on_treatment=ev.on_treatment,
        exposure=ev.exposure(),
        findings=(*ev.alerts(), *schedule_findings),
        items=tuple(items),
        sessions=ev.sessions,
        schedule_version=(settings or default_settings()).version,
    )
