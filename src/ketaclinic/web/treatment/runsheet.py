"""Reads for the run sheet: the time-aligned flowsheet grid (vitals, sedation, dissociation, side effects) with
values outside the thresholds marked, the vitals chart drawn server-side as SVG, and the dose form's figures
(mg, mg/kg, the volume to draw up from the withdrawn lot)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ketaclinic.core.protocols.monitoring import Vitals, evaluate_sedation, evaluate_vitals
from ketaclinic.web.treatment.models import DosingSession

#: Grid rows: key, label in words with its unit.
GRID_ROWS: tuple[tuple[str, str], ...] = (
    ("bp", "Blood pressure (mmHg)"),
    ("heart_rate", "Heart rate (beats a minute)"),
    ("spo2", "Oxygen saturation (%)"),
    ("respiratory_rate", "Breathing rate (breaths a minute)"),
    ("moaas", "Sedation, MOAA/S (5 alert, 0 unresponsive)"),
    ("cadss", "Dissociation, CADSS (0 to 92)"),
    ("side_effects", "Side effects"),
)


@dataclass
class Cell:
    text: str
    level: str = ""  # "", "warn" or "critical"
    why: str = ""  # the threshold crossed, in words

    @property
    def marker(self) -> str:
        return {"critical": "!!", "warn": "!"}.get(self.level, "")


@dataclass
class Column:
    at: dt.datetime
    minute: int | None
    source: str  # "manual", "sensor" or "mixed"
    cells: dict[str, Cell] = field(default_factory=dict)


def _key(at: dt.datetime) -> dt.datetime:
    return at.replace(second=0, microsecond=0)


def _vitals_of(v: Any) -> Vitals:
    return Vitals(v.taken_at, v.systolic, v.diastolic, v.heart_rate, v.spo2, v.respiratory_rate)


def flowsheet_grid(session: DosingSession, rows: list[dict[str, Any]]) -> list[Column]:
    """One column per minute that has anything recorded (from `selectors.flowsheet_rows` plus side effects),
    oldest first; each cell marked with the most severe threshold it crosses (vitals by the phase's table
    and the rise from baseline, MOAA/S by the sedation rules)."""
    t0 = session.first_dose_at
    baseline = next(
        (r["v"] for r in rows if r["kind"] == "vitals" and getattr(r["v"], "is_baseline", False)), None
    )
    cols: dict[dt.datetime, Column] = {}

    def col(at: dt.datetime, source: str) -> Column:
        k = _key(at)
        c = cols.get(k)
        if c is None:
            minute = int((at - t0).total_seconds() // 60) if t0 else None
            c = cols[k] = Column(at=k, minute=minute, source=source)
        elif c.source != source:
            c.source = "mixed"
        return c

    for r in rows:
        v = r["v"]
        c = col(r["at"], r["source"])
        if r["kind"] == "vitals":
            phase = "during" if t0 is not None and r["at"] >= t0 else "pre_dose"
            alerts = evaluate_vitals(
                _vitals_of(v),
                phase=phase,  # type: ignore[arg-type]
                baseline=_vitals_of(baseline) if baseline is not None and v is not baseline else None,
            )
            worst: dict[str, Any] = {}
            for a in sorted(alerts, key=lambda a: a.level != "critical"):
                worst.setdefault(a.vital, a)
            if v.systolic is not None or v.diastolic is not None:
                c.cells["bp"] = _cell(f"{_n(v.systolic)}/{_n(v.diastolic)}", worst, "systolic", "diastolic")
            for key in ("heart_rate", "spo2", "respiratory_rate"):
                if getattr(v, key) is not None:
                    c.cells[key] = _cell(str(getattr(v, key)), worst, key)
        else:
            alert = evaluate_sedation(v.score) if r["kind"] == "moaas" else None
            c.cells[r["kind"]] = Cell(
                str(v.score),
                ("critical" if alert.level == "critical" else "warn") if alert else "",
                alert.message if alert else "",
            )
    for se in session.side_effects.all():
        c = col(se.onset_at, "manual")
        text = f"{se.get_code_display()} ({se.get_severity_display().lower()}{', serious' if se.serious else ''})"
        prev = c.cells.get("side_effects")
        level = (
            "critical"
            if se.serious or se.severity == "severe"
            else ("warn" if se.severity == "moderate" else "")
        )
        if prev is not None and prev.level == "critical":
            level = "critical"
        elif prev is not None and prev.level and not level:
            level = prev.level
        c.cells["side_effects"] = Cell(
            f"{prev.text}; {text}" if prev else text,
            level,
            "moderate, severe or serious side effect" if level else "",
        )
    return [cols[k] for k in sorted(cols)]


def _cell(text: str, worst: dict[str, Any], *vitals: str) -> Cell:
    """A grid cell marked with the most severe alert of its vitals (both pressures share the BP cell)."""
    found = [worst[x] for x in vitals if x in worst]
    level = "critical" if any(a.level == "critical" for a in found) else ("warn" if found else "")
    return Cell(text, level, "; ".join(a.message for a in found))


def _n(x: Any) -> str:
    return "–" if x is None else str(x)


# ----------------------------------------------------------------------------------------------- the chart

CHART_W, CHART_H = 720, 260
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 44, 12, 14, 34
_Y_MAX = 200.0
#: Series: key, label, CSS class (stroke and dash pattern differ, so colour is not the only signal), marker.
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("systolic", "Systolic", "s-sys", "▲"),
    ("diastolic", "Diastolic", "s-dia", "▼"),
    ("heart_rate", "Heart rate", "s-hr", "●"),
    ("spo2", "Oxygen saturation", "s-spo2", "■"),
    ("respiratory_rate", "Breathing rate", "s-rr", "◆"),
)


def _span(session: DosingSession, rows: list[dict[str, Any]]) -> tuple[dt.datetime, dt.datetime] | None:
    times = [r["at"] for r in rows if r["kind"] == "vitals"]
    marks = [t for t in (session.first_dose_at, session.dose_ended_at) if t is not None]
    marks += [p.paused_at for p in session.pauses.all()]
    every = times + marks
    if not every:
        return None
    lo, hi = min(every), max(every)
    if session.status in ("dosing", "monitoring", "discharge_ready"):
        hi = max(hi, timezone.now())
    if hi - lo < dt.timedelta(minutes=10):
        hi = lo + dt.timedelta(minutes=10)
    return lo, hi


def vitals_chart(session: DosingSession, rows: list[dict[str, Any]]) -> SafeString:
    """The session's vitals over time as inline SVG (no script): one line per measure with its own marker,
    the dose start and end as labelled vertical lines and each pause as a shaded, labelled band."""
    span = _span(session, rows)
    if span is None:
        return mark_safe('<p class="muted" id="vitals-chart-empty">No vital signs recorded yet.</p>')
    lo, hi = span
    total = (hi - lo).total_seconds()
    plot_w, plot_h = CHART_W - _PAD_L - _PAD_R, CHART_H - _PAD_T - _PAD_B

    def x(at: dt.datetime) -> float:
        return _PAD_L + (at - lo).total_seconds() / total * plot_w

    def y(v: float) -> float:
        return _PAD_T + (1 - min(v, _Y_MAX) / _Y_MAX) * plot_h

    out: list[str] = [
        f'<svg id="vitals-chart" class="vitals-chart" viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'aria-labelledby="vitals-chart-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="vitals-chart-title">Vital signs over the session</title>',
    ]
    for v in (0, 50, 100, 150, 200):
        out.append(
            f'<line class="grid" x1="{_PAD_L}" x2="{CHART_W - _PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text class="axis" x="{_PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>'
        )
    ticks = 6
    for i in range(ticks + 1):
        at = lo + (hi - lo) * i / ticks
        label = timezone.localtime(at).strftime("%H:%M")
        out.append(
            f'<text class="axis" x="{x(at):.1f}" y="{CHART_H - _PAD_B + 16}" text-anchor="middle">{label}</text>'
        )
    for p in session.pauses.all():
        end = p.resumed_at or (session.dose_ended_at if session.dose_ended_at else hi)
        x0, x1 = x(p.paused_at), x(max(end, p.paused_at))
        out.append(
            f'<rect class="pause" data-mark="pause" x="{x0:.1f}" y="{_PAD_T}" width="{max(x1 - x0, 2):.1f}" '
            f'height="{plot_h}"><title>Paused: {escape(p.reason)}</title></rect>'
            f'<text class="mark-label" x="{x0 + 3:.1f}" y="{_PAD_T + 24}">Paused</text>'
        )
    for mark_at, label, key in (
        (session.first_dose_at, "Dose start", "dose-start"),
        (session.dose_ended_at, "Dose end", "dose-end"),
    ):
        if mark_at is None:
            continue
        out.append(
            f'<line class="mark" data-mark="{key}" x1="{x(mark_at):.1f}" x2="{x(mark_at):.1f}" y1="{_PAD_T}" '
            f'y2="{CHART_H - _PAD_B}"/><text class="mark-label" x="{x(mark_at) + 3:.1f}" y="{_PAD_T + 10}">{label}</text>'
        )
    vit = sorted((r for r in rows if r["kind"] == "vitals"), key=lambda r: r["at"])
    for key, label, cls, marker in SERIES:
        pts = [(x(r["at"]), y(float(getattr(r["v"], key)))) for r in vit if getattr(r["v"], key) is not None]
        if not pts:
            continue
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        out.append(
            f'<polyline class="series {cls}" data-series="{key}" points="{path}"><title>{label}</title></polyline>'
        )
        for a, b in pts:
            out.append(
                f'<text class="pt {cls}" x="{a:.1f}" y="{b + 4:.1f}" text-anchor="middle">{marker}</text>'
            )
    out.append("</svg>")
    legend = "".join(
        f'<li><span class="{cls}" aria-hidden="true">{marker}</span> {label}</li>'
        for _k, label, cls, marker in SERIES
    )
    # Every text put in is a constant, a number or escaped (a pause's reason): safe to mark as HTML.
    return mark_safe("".join(out) + f'<ul class="chart-legend" id="vitals-chart-legend">{legend}</ul>')  # noqa: S308


# ----------------------------------------------------------------------------------------------- dose form


def _q(d: Decimal, places: str) -> Decimal:
    return d.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def dose_figures(dose_mg: Decimal | None, weight_kg: Decimal | None, lot: Any) -> dict[str, str]:
    """The dose in mg, per kg of the order's weight, and how much of `lot` (its product's strength) to draw
    up: mL for a solution, devices or tablets otherwise."""
    out = {"mg": "", "mg_per_kg": "", "volume": "", "unit": ""}
    if dose_mg is None or dose_mg <= 0:
        return out
    out["mg"] = _plain(_q(dose_mg, "0.01"))
    if weight_kg:
        out["mg_per_kg"] = _plain(_q(dose_mg / weight_kg, "0.001"))
    if lot is not None and lot.product.strength_mg_per_unit:
        amount = dose_mg / lot.product.strength_mg_per_unit
        out["volume"] = _plain(_q(amount, "0.01"))
        out["unit"] = "mL" if lot.product.unit == "mL" else str(lot.product.unit)
    return out


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def dose_form(session: DosingSession, protocol: Any, held: list[tuple[Any, str]]) -> dict[str, Any]:
    """The dose form's default dose and, per lot the session holds, the figures for that dose (the page's
    script recomputes them as the dose is edited, from the same data attributes)."""
    order = session.order
    default: Decimal | None
    if protocol.device_mg is not None:
        default = Decimal(str(protocol.device_mg.value))
    else:
        default = order.dose_mg if order is not None else None
    weight = order.weight_kg if order is not None else None
    lots = [
        {
            "lot": lot,
            "held": q,
            "strength": _plain(lot.product.strength_mg_per_unit),
            "unit": "mL" if lot.product.unit == "mL" else str(lot.product.unit),
            "figures": dose_figures(default, weight, lot),
        }
        for lot, q in held
    ]
    return {
        "dose_default": _plain(default) if default is not None else "",
        "dose_weight": _plain(weight) if weight is not None else "",
        "dose_lots": lots,
        "dose_figures": lots[0]["figures"] if lots else dose_figures(default, weight, None),
    }


def flowsheet_context(session: DosingSession) -> dict[str, Any]:
    """The run sheet's flowsheet: the rows in time order, the time-aligned grid and the vitals chart."""
    from ketaclinic.web.treatment.selectors import flowsheet_rows

    rows = flowsheet_rows(session)
    return {
        "rows": rows,
        "grid": flowsheet_grid(session, rows),
        "grid_rows": GRID_ROWS,
        "chart": vitals_chart(session, rows),
        "pauses": list(session.pauses.all()),
    }


KEPT_KEY = "kc-runsheet-kept"


def keep_form(request: Any, session_id: int, step: str, post: Any) -> None:
    """Remember what was typed in a refused run-sheet form, to show it again after the redirect (once)."""
    values = {k: post.get(k) for k in post if k != "csrfmiddlewaretoken" and "password" not in k}
    request.session[KEPT_KEY] = {"session": session_id, "step": step, "values": values}


def kept_form(request: Any, session_id: int) -> dict[str, Any]:
    """The refused form's step and values for this session (forgotten once read)."""
    kept = request.session.pop(KEPT_KEY, None)
    if not kept or kept.get("session") != session_id:
        return {"kept": {}}
    return {"kept": {kept["step"]: kept["values"]}}


def infusion_state(session: DosingSession, protocol: Any) -> dict[str, Any] | None:
    """The running infusion: its start, rate, paused minutes so far and when the full dose will have run in."""
    from ketaclinic.core.protocols.infusion_dose import infusion_run

    if protocol.infusion is None or session.status != "dosing":
        return None
    admins = list(session.administrations.all())
    if len(admins) != 1 or not admins[0].duration_min:
        return None
    a = admins[0]
    assert a.duration_min is not None
    now = max(timezone.now(), a.administered_at)
    run = infusion_run(
        dose_mg=a.dose_mg,
        duration_min=a.duration_min,
        started_at=a.administered_at,
        ended_at=now,
        pauses=[(p.paused_at, p.resumed_at) for p in session.pauses.all()],
    )
    return {
        "started": a.administered_at,
        "rate": _plain(_q(a.dose_mg / Decimal(a.duration_min), "0.001")),
        "planned_end": run.planned_end,
        "paused_min": _plain(run.paused_min),
        "given_so_far": _plain(run.given_mg),
    }
