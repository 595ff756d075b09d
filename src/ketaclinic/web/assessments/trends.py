"""Server-rendered SVG trend chart: one instrument's totals over time, severity bands shaded, dose days marked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from ketaclinic.core.instruments import Instrument

W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 150, 12, 28  # RIGHT fits the longest band label ("Moderately severe 15-19")
BAND_FILLS = ("#e8f5e9", "#fffde7", "#fff3e0", "#ffe0b2", "#ffcdd2")


def _x(t: dt.datetime, t0: dt.datetime, t1: dt.datetime) -> float:
    span = (t1 - t0).total_seconds() or 1.0
    return LEFT + (W - LEFT - RIGHT) * ((t - t0).total_seconds() / span)


def _y(v: float, lo: float, hi: float) -> float:
    return TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / ((hi - lo) or 1))


def trend_svg(
    defn: Instrument,
    points: Sequence[tuple[dt.datetime, float]],
    dose_times: Sequence[dt.datetime] = (),
) -> SafeString:
    """An accessible SVG (role=img with a text title/description). All text is escaped."""
    lo, hi = defn.total_min, defn.total_max
    times = [p[0] for p in points] + list(dose_times)
    if times:
        t0, t1 = min(times), max(times)
    else:
        t1 = timezone.now()
        t0 = t1 - dt.timedelta(days=7)
    if t1 - t0 < dt.timedelta(days=1):
        t0 -= dt.timedelta(hours=12)
        t1 += dt.timedelta(hours=12)
    parts: list[str] = []
    title = f"{defn.short_title} trend"
    tz = timezone.get_current_timezone()  # once: timezone.localtime() per point looks it up every time

    def local(t: dt.datetime) -> dt.datetime:
        return t.astimezone(tz)

    desc = "; ".join(f"{local(t):%Y-%m-%d}: {v}" for t, v in points) or "no complete scores"
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'class="trend" data-instrument="{escape(defn.id)}" aria-labelledby="t-{escape(defn.id)} d-{escape(defn.id)}">'
        f'<title id="t-{escape(defn.id)}">{escape(title)}</title><desc id="d-{escape(defn.id)}">{escape(desc)}</desc>'
    )
    for k, band in enumerate(defn.bands):
        y_top = _y(band.high + 0.5 if band.high < hi else hi, lo, hi)
        y_bot = _y(band.low - 0.5 if band.low > lo else lo, lo, hi)
        parts.append(
            f'<rect class="band" data-band="{escape(band.code)}" x="{LEFT}" y="{y_top:.1f}" '
            f'width="{W - LEFT - RIGHT}" height="{max(y_bot - y_top, 0):.1f}" fill="{BAND_FILLS[k % len(BAND_FILLS)]}"/>'
            f'<text x="{W - RIGHT + 4}" y="{(y_top + y_bot) / 2 + 4:.1f}" font-size="10">'
            f"{escape(band.label)} {band.low}-{band.high}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#555"/>'
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#555"/>'
        f'<text x="{LEFT - 6}" y="{TOP + 8}" font-size="10" text-anchor="end">{hi}</text>'
        f'<text x="{LEFT - 6}" y="{H - BOTTOM}" font-size="10" text-anchor="end">{lo}</text>'
        f'<text x="{LEFT}" y="{H - 8}" font-size="10">{local(t0):%Y-%m-%d}</text>'
        f'<text x="{W - RIGHT}" y="{H - 8}" font-size="10" text-anchor="end">{local(t1):%Y-%m-%d}</text>'
    )
    for d in dose_times:
        x = _x(d, t0, t1)
        parts.append(
            f'<line class="dose" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" stroke="#6a1b9a" '
            f'stroke-dasharray="3,3"><title>Dose {local(d):%Y-%m-%d %H:%M}</title></line>'
        )
    coords = [(_x(t, t0, t1), _y(v, lo, hi), t, v) for t, v in points]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for x, y, t, v in coords:
        parts.append(
            f'<circle class="point" data-total="{v}" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1565c0">'
            f"<title>{local(t):%Y-%m-%d %H:%M}: {v}</title></circle>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
