"""Server-rendered SVG: opioid load (MME/day, a step line) above the pain scores (PEG and pain NRS, 0-10) on one time axis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from ketaclinic.core.pain.mme import format_number
from ketaclinic.core.pain.sparing import LoadPoint

W, LEFT, RIGHT = 640, 56, 16
PAD, TOP_H, GAP, PAIN_H, AXIS = 22, 130, 34, 110, 24
H = TOP_H + GAP + PAIN_H + AXIS + 12
PAIN_COLOURS = {"peg": "#1565c0", "pain-nrs": "#2e7d32"}


def _x(d: dt.date, d0: dt.date, d1: dt.date) -> float:
    span = (d1 - d0).days or 1
    return LEFT + (W - LEFT - RIGHT) * ((d - d0).days / span)


def pain_chart_svg(
    series: Sequence[LoadPoint],
    scores: dict[str, list[tuple[dt.datetime, float]]],
    baseline_day: dt.date | None,
    labels: dict[str, str],
) -> SafeString:
    """An accessible SVG (role=img, text title and description); every interpolated text is escaped."""
    days = [p.day for p in series] + [timezone.localdate(t) for pts in scores.values() for t, _ in pts]
    if baseline_day:
        days.append(baseline_day)
    d1 = max(days) if days else timezone.localdate()
    d0 = min(days) if days else d1 - dt.timedelta(days=28)
    if (d1 - d0).days < 7:
        d0 = d1 - dt.timedelta(days=7)
    top = max([p.total for p in series] + [Decimal(50)])
    top = Decimal(((int(top) + 24) // 25) * 25)
    desc_load = "; ".join(f"{p.day:%Y-%m-%d}: {format_number(p.total)} MME/day" for p in series)
    desc_pain = "; ".join(
        f"{labels.get(k, k)} {timezone.localtime(t):%Y-%m-%d} {v}"
        for k, pts in scores.items()
        for t, v in pts
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" class="pain-chart" '
        'aria-labelledby="pain-chart-t pain-chart-d">'
        '<title id="pain-chart-t">Opioid load and pain scores over time</title>'
        f'<desc id="pain-chart-d">{escape(desc_load or "no opioid load recorded")}. {escape(desc_pain or "no pain scores")}</desc>'
    ]

    def y_load(v: Decimal) -> float:
        return float(PAD + (TOP_H - PAD) * (1 - (v / top)))

    def y_pain(v: float) -> float:
        return TOP_H + GAP + PAIN_H * (1 - v / 10)

    # panel frames and axis labels
    parts.append(
        f'<text x="{LEFT}" y="12" font-size="10" font-weight="bold">Opioid load, MME/day</text>'
        f'<text x="{LEFT - 6}" y="{y_load(top) + 4:.1f}" font-size="10" text-anchor="end">{top}</text>'
        f'<text x="{LEFT - 6}" y="{y_load(Decimal(0)):.1f}" font-size="10" text-anchor="end">0</text>'
        f'<line x1="{LEFT}" y1="{y_load(Decimal(0)):.1f}" x2="{W - RIGHT}" y2="{y_load(Decimal(0)):.1f}" stroke="#555"/>'
        f'<text x="{LEFT}" y="{TOP_H + GAP - 10}" font-size="10" font-weight="bold">Pain score, 0-10</text>'
        f'<text x="{LEFT - 6}" y="{y_pain(10) + 4:.1f}" font-size="10" text-anchor="end">10</text>'
        f'<text x="{LEFT - 6}" y="{y_pain(0):.1f}" font-size="10" text-anchor="end">0</text>'
        f'<line x1="{LEFT}" y1="{y_pain(0):.1f}" x2="{W - RIGHT}" y2="{y_pain(0):.1f}" stroke="#555"/>'
        f'<text x="{LEFT}" y="{H - 6}" font-size="10">{d0:%Y-%m-%d}</text>'
        f'<text x="{W - RIGHT}" y="{H - 6}" font-size="10" text-anchor="end">{d1:%Y-%m-%d}</text>'
    )
    for level in (50, 90):
        if level <= top:
            y = y_load(Decimal(level))
            parts.append(
                f'<line class="mme-threshold" x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" '
                f'stroke="#e65100" stroke-dasharray="4,3"/><text x="{W - RIGHT - 2}" y="{y - 3:.1f}" font-size="9" '
                f'text-anchor="end">{level}</text>'
            )
    if baseline_day:
        x = _x(baseline_day, d0, d1)
        parts.append(
            f'<line class="baseline" x1="{x:.1f}" y1="{PAD}" x2="{x:.1f}" y2="{y_pain(0):.1f}" stroke="#6a1b9a" '
            f'stroke-dasharray="3,3"><title>Baseline {baseline_day:%Y-%m-%d}</title></line>'
        )
    if series:
        pts: list[str] = []
        for k, p in enumerate(series):
            x, y = _x(p.day, d0, d1), y_load(p.total)
            if k:
                pts.append(f"{x:.1f},{y_load(series[k - 1].total):.1f}")
            pts.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<polyline class="mme-line" points="{" ".join(pts)}" fill="none" stroke="#b71c1c" stroke-width="2"/>'
        )
        for p in series:
            mark = "" if p.complete else " (lower bound)"
            parts.append(
                f'<circle class="mme-point" data-mme="{format_number(p.total)}" cx="{_x(p.day, d0, d1):.1f}" '
                f'cy="{y_load(p.total):.1f}" r="3" fill="#b71c1c"><title>{p.day:%Y-%m-%d}: '
                f"{format_number(p.total)} MME/day{mark}</title></circle>"
            )
    for key, points in scores.items():
        colour = PAIN_COLOURS.get(key, "#37474f")
        coords = [(_x(timezone.localdate(t), d0, d1), y_pain(v), t, v) for t, v in points]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, t, v in coords:
            parts.append(
                f'<circle class="pain-point" data-instrument="{escape(key)}" data-total="{v}" cx="{x:.1f}" cy="{y:.1f}" '
                f'r="3.5" fill="{colour}"><title>{escape(labels.get(key, key))} {timezone.localtime(t):%Y-%m-%d %H:%M}: {v}</title></circle>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
