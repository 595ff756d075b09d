"""Server-rendered SVG plots for the outcomes page: mean score by week, waterfall, Kaplan-Meier, durability.

Each chart is an accessible image (role=img with a title and a text description giving its numbers); all text
is escaped. No script, no inline style (strict CSP): presentation attributes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from html import escape

from django.utils.safestring import SafeString, mark_safe

from ketaclinic.core.outcomes import CohortRules, KMCurve, PatientOutcome
from ketaclinic.core.outcomes.cohort import days
from ketaclinic.core.outcomes.trajectories import DurabilityPoint, WeekMean

W, H = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 34
PLOT_W, PLOT_H = W - LEFT - RIGHT, H - TOP - BOTTOM


def _open(kind: str, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'class="outcome-chart" data-chart="{kind}" aria-labelledby="{kind}-t {kind}-d">'
        f'<title id="{kind}-t">{escape(title)}</title><desc id="{kind}-d">{escape(desc)}</desc>'
    )


def _axes(y_labels: Sequence[tuple[float, str]], x_labels: Sequence[tuple[float, str]], x_title: str) -> str:
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#555"/>'
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#555"/>'
    ]
    for y, label in y_labels:
        parts.append(
            f'<line x1="{LEFT - 3}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{escape(label)}</text>'
        )
    for x, label in x_labels:
        parts.append(
            f'<text x="{x:.1f}" y="{H - BOTTOM + 14}" font-size="10" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(
        f'<text x="{LEFT + PLOT_W / 2:.1f}" y="{H - 4}" font-size="10" text-anchor="middle">{escape(x_title)}</text>'
    )
    return "".join(parts)


def _empty(kind: str, title: str, message: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every interpolated text is escaped
        _open(kind, title, message)
        + f'<text x="{W / 2}" y="{H / 2}" font-size="12" text-anchor="middle">{escape(message)}</text></svg>'
    )


def withheld_svg(kind: str, title: str, threshold: int) -> SafeString:
    """A chart left out because it would show fewer than `threshold` people."""
    return _empty(kind, title, f"Not drawn: it would show fewer than {threshold} patients")


def weekly_means_svg(
    means: Sequence[WeekMean],
    rules: CohortRules,
    *,
    lo: float,
    hi: float,
    instrument: str,
    max_week: int = 12,
) -> SafeString:
    """Mean total by week since the first dose with its 95 % band; the remission threshold as a dashed line."""
    title = f"Mean {instrument} score by week since the first dose, with 95 % confidence band"
    if not means:
        return _empty("weekly", title, "No evaluable patients")

    def x(week: float) -> float:
        return LEFT + PLOT_W * week / max_week

    def y(v: float) -> float:
        v = min(max(v, lo), hi)
        return TOP + PLOT_H * (1 - (v - lo) / ((hi - lo) or 1))

    desc = "; ".join(
        f"week {m.week}: mean {m.mean:.1f} of {m.n} patients"
        + (f" (95 % CI {m.lo:.1f} to {m.hi:.1f})" if m.lo is not None and m.hi is not None else "")
        for m in means
    )
    parts = [
        _open("weekly", title, desc),
        _axes(
            [(y(lo + (hi - lo) * k / 4), f"{lo + (hi - lo) * k / 4:g}") for k in range(5)],
            [(x(w), str(w)) for w in range(0, max_week + 1, 2)],
            "Weeks since the first dose (0 = baseline)",
        ),
    ]
    banded = [m for m in means if m.lo is not None and m.hi is not None]
    if len(banded) > 1:
        upper = [f"{x(m.week):.1f},{y(m.hi or 0):.1f}" for m in banded]
        lower = [f"{x(m.week):.1f},{y(m.lo or 0):.1f}" for m in reversed(banded)]
        parts.append(
            f'<polygon class="band" points="{" ".join(upper + lower)}" fill="#bbdefb" opacity="0.6"/>'
        )
    if rules.remission is not None:
        r = rules.remission
        ry = y(r.value)
        label = f"Remission {'below' if r.op == 'lt' else 'at or below'} {r.value}"
        parts.append(
            f'<line class="threshold" x1="{LEFT}" y1="{ry:.1f}" x2="{W - RIGHT}" y2="{ry:.1f}" stroke="#2e7d32" '
            f'stroke-dasharray="5,4"/><text x="{W - RIGHT - 4}" y="{ry - 4:.1f}" font-size="10" '
            f'text-anchor="end" fill="#2e7d32">{escape(label)}</text>'
        )
    pts = " ".join(f"{x(m.week):.1f},{y(m.mean):.1f}" for m in means)
    parts.append(f'<polyline class="mean" points="{pts}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for m in means:
        parts.append(
            f'<circle class="week-mean" cx="{x(m.week):.1f}" cy="{y(m.mean):.1f}" r="3" fill="#1565c0">'
            f"<title>Week {m.week}: mean {m.mean:.1f}, {m.n} patients</title></circle>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def waterfall_svg(rows: Sequence[PatientOutcome], rules: CohortRules) -> SafeString:
    """One bar per evaluable patient: % change from baseline at the latest score, worst first."""
    title = "Change from baseline at each patient's latest score (waterfall)"
    if not rows:
        return _empty("waterfall", title, "No evaluable patients with a baseline above 0")
    top = max(50.0, min(100.0, max(p.pct_change or 0.0 for p in rows)))

    def y(v: float) -> float:
        v = min(max(v, -100.0), top)
        return TOP + PLOT_H * (top - v) / (top + 100)

    n = len(rows)
    bw = PLOT_W / n
    responders = sum(1 for p in rows if p.response_last)
    desc = (
        f"{n} patients; {responders} at or beyond a {rules.response_pct} % fall at their latest score; "
        f"changes from {rows[0].pct_change:+.0f} % to {rows[-1].pct_change:+.0f} %"
    )
    ticks = [v for v in (-100, -50, 0, 50, 100) if v <= top]
    parts = [
        _open("waterfall", title, desc),
        _axes([(y(v), f"{v:+d} %" if v else "0 %") for v in ticks], [], "Patients, worst to best"),
    ]
    zero = y(0)
    for i, p in enumerate(rows):
        v = p.pct_change or 0.0
        fill = "#2e7d32" if p.remission_last else "#1565c0" if p.response_last else "#90a4ae"
        y0, y1 = sorted((zero, y(v)))
        state = "remission" if p.remission_last else "response" if p.response_last else "no response"
        parts.append(
            f'<rect class="bar" x="{LEFT + i * bw + bw * 0.1:.2f}" y="{y0:.1f}" width="{max(bw * 0.8, 0.5):.2f}" '
            f'height="{max(y1 - y0, 0.5):.1f}" fill="{fill}"><title>{v:+.0f} % ({state})</title></rect>'
        )
    ry = y(-rules.response_pct)
    parts.append(
        f'<line class="threshold" x1="{LEFT}" y1="{ry:.1f}" x2="{W - RIGHT}" y2="{ry:.1f}" stroke="#c62828" '
        f'stroke-dasharray="5,4"/><text x="{W - RIGHT - 4}" y="{ry + 12:.1f}" font-size="10" text-anchor="end" '
        f'fill="#c62828">Response: a fall of {rules.response_pct} % or more</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def km_svg(curve: KMCurve[timedelta], *, follow_up_days: float) -> SafeString:
    """Kaplan-Meier step curve of the share not yet responded, by days since the first dose; median marked."""
    title = "Time to first response (Kaplan-Meier): share of patients not yet responded"
    if curve.n == 0:
        return _empty("km", title, "No evaluable patients")
    last_event = days(curve.steps[-1].time) if curve.steps else 0.0
    span = max(follow_up_days, last_event, 7.0)

    def x(d: float) -> float:
        return LEFT + PLOT_W * d / span

    def y(s: Fraction | float) -> float:
        return TOP + PLOT_H * (1 - float(s))

    median = curve.median
    desc = f"{curve.n} patients; " + (
        f"median time to response {days(median):.1f} days" if median is not None else "median not reached"
    )
    desc += "; " + "; ".join(
        f"day {days(s.time):.1f}: {float(s.survival) * 100:.0f} % not yet responded" for s in curve.steps[:20]
    )
    step = max(7, int(span // 6 // 7 * 7) or 7)
    parts = [
        _open("km", title, desc),
        _axes(
            [(y(v / 100), f"{v} %") for v in (0, 25, 50, 75, 100)],
            [(x(d), str(d)) for d in range(0, int(span) + 1, step)],
            "Days since the first dose",
        ),
    ]
    pts = [f"{x(0):.1f},{y(1):.1f}"]
    prev = Fraction(1)
    for s in curve.steps:
        d = days(s.time)
        pts.append(f"{x(d):.1f},{y(prev):.1f}")
        pts.append(f"{x(d):.1f},{y(s.survival):.1f}")
        prev = s.survival
    pts.append(f"{x(span):.1f},{y(prev):.1f}")
    parts.append(
        f'<polyline class="km" points="{" ".join(pts)}" fill="none" stroke="#6a1b9a" stroke-width="2"/>'
    )
    if median is not None:
        mx = x(days(median))
        parts.append(
            f'<line class="median" x1="{mx:.1f}" y1="{y(0.5):.1f}" x2="{mx:.1f}" y2="{H - BOTTOM}" stroke="#6a1b9a" '
            f'stroke-dasharray="4,3"/><text x="{mx + 4:.1f}" y="{y(0.5) - 4:.1f}" font-size="10">'
            f"Median {days(median):.1f} days</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def durability_svg(points: Sequence[DurabilityPoint], responders: int) -> SafeString:
    """Share of induction responders still responding 4, 8 and 12 weeks after induction, with 95 % intervals."""
    title = "Durability: induction responders still in response after induction"
    if responders == 0:
        return _empty("durability", title, "No patient responded during induction")

    def y(v: float) -> float:
        return TOP + PLOT_H * (1 - v)

    desc = f"{responders} induction responders; " + "; ".join(
        f"{p.weeks_after_induction} weeks after induction: "
        + (
            f"{p.still_responding.n} of {p.still_responding.of} still responding"
            if p.still_responding.of
            else "no scores"
        )
        for p in points
    )
    slot = PLOT_W / max(len(points), 1)
    parts = [
        _open("durability", title, desc),
        _axes(
            [(y(v / 100), f"{v} %") for v in (0, 25, 50, 75, 100)],
            [(LEFT + slot * (i + 0.5), f"{p.weeks_after_induction} weeks") for i, p in enumerate(points)],
            "Time after the end of induction",
        ),
    ]
    for i, p in enumerate(points):
        cx = LEFT + slot * (i + 0.5)
        prop = p.still_responding
        if prop.rate is None or prop.ci95 is None:
            parts.append(
                f'<text x="{cx:.1f}" y="{y(0.1):.1f}" font-size="10" text-anchor="middle">no scores</text>'
            )
            continue
        parts.append(
            f'<rect class="bar" x="{cx - slot * 0.25:.1f}" y="{y(prop.rate):.1f}" width="{slot * 0.5:.1f}" '
            f'height="{y(0) - y(prop.rate):.1f}" fill="#1565c0"><title>{prop.n} of {prop.of}</title></rect>'
            f'<line class="ci" x1="{cx:.1f}" y1="{y(prop.ci95[1]):.1f}" x2="{cx:.1f}" y2="{y(prop.ci95[0]):.1f}" '
            f'stroke="#263238" stroke-width="1.5"/>'
            f'<text x="{cx:.1f}" y="{y(prop.rate) - 6:.1f}" font-size="10" text-anchor="middle">'
            f"{prop.rate * 100:.0f} % ({prop.n} of {prop.of})</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def reference_svg(
    bars: Sequence[tuple[str, float | None, tuple[float, float] | None]], lines: Sequence[object]
) -> SafeString:
    """This clinic's response rates (bars with 95 % intervals; None when withheld) beside published response
    rates drawn as dashed, labelled reference lines (`core.outcomes.references`): a reference, not a claim."""
    title = "Response rate beside published trial figures (reference, not a claim)"
    refs = [(str(getattr(r, "short", "")), float(getattr(r, "rate", 0.0))) for r in lines]
    shown = [(label, rate, ci) for label, rate, ci in bars]

    def y(v: float) -> float:
        return TOP + PLOT_H * (1 - v)

    desc = (
        "; ".join(
            f"{label}: {'withheld' if rate is None else f'{rate * 100:.1f} %'}" for label, rate, _ in shown
        )
        + "; reference lines: "
        + ("; ".join(f"{s} {v * 100:.1f} %" for s, v in refs) or "none for this route")
    )
    area = PLOT_W * 0.55  # bars on the left, reference labels on the right
    slot = area / max(len(shown), 1)
    parts = [
        _open("reference", title, desc),
        _axes(
            [(y(v / 100), f"{v} %") for v in (0, 25, 50, 75, 100)],
            [(LEFT + slot * (i + 0.5), label) for i, (label, _, _) in enumerate(shown)],
            "This clinic (bars) and published figures (dashed lines)",
        ),
    ]
    for i, (label, rate, ci) in enumerate(shown):
        cx = LEFT + slot * (i + 0.5)
        if rate is None:
            parts.append(
                f'<text x="{cx:.1f}" y="{y(0.1):.1f}" font-size="10" text-anchor="middle">withheld</text>'
            )
            continue
        parts.append(
            f'<rect class="bar" x="{cx - slot * 0.25:.1f}" y="{y(rate):.1f}" width="{slot * 0.5:.1f}" '
            f'height="{y(0) - y(rate):.1f}" fill="#1565c0"><title>{escape(label)}</title></rect>'
        )
        if ci is not None:
            parts.append(
                f'<line class="ci" x1="{cx:.1f}" y1="{y(ci[1]):.1f}" x2="{cx:.1f}" y2="{y(ci[0]):.1f}" '
                f'stroke="#263238" stroke-width="1.5"/>'
            )
    for short, v in refs:
        ry = y(v)
        parts.append(
            f'<line class="reference" x1="{LEFT}" y1="{ry:.1f}" x2="{W - RIGHT}" y2="{ry:.1f}" stroke="#6a1b9a" '
            f'stroke-dasharray="6 3"/><text x="{W - RIGHT - 2}" y="{ry - 3:.1f}" font-size="9" '
            f'text-anchor="end" fill="#6a1b9a">{escape(f"{short}: {v * 100:.1f} % (reference)")}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped
