"""The clinic outcomes summary as a PDF for a period: the page's figures, charts and safety table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ketaclinic.core.outcomes.cohort import days
from ketaclinic.web.outcomes.pdf import ReportPdf, local_minute
from ketaclinic.web.outcomes.selectors import OutcomeFilters

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic


def _pct(v: float | None) -> str:
    return "not available" if v is None else f"{v * 100:.1f} %"


def filter_words(filters: OutcomeFilters, choices: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The cohort's filters in words."""

    def words(field: str, value: str) -> str:
        return dict(choices[field]).get(value, value)

    period = (
        f"Courses started from {filters.since:%Y-%m-%d}" if filters.since else "Courses started at any time"
    ) + (f" until {filters.until:%Y-%m-%d}" if filters.until else "")
    parts = [
        f"Measure: {words('instrument', filters.instrument)}.",
        f"Indication: {words('indication', filters.indication) if filters.indication else 'all'}; "
        f"protocol: {words('protocol', filters.protocol) if filters.protocol else 'all'}; "
        f"route: {words('route', filters.route) if filters.route else 'all'}; "
        f"site: {words('site', str(filters.site_id)) if filters.site_id else 'all'}.",
        period + ".",
    ]
    return parts


def clinic_summary_pdf(
    *,
    clinic: Clinic,
    filters: OutcomeFilters,
    report: dict[str, Any],
    choices: dict[str, list[tuple[str, str]]],
) -> bytes:
    from ketaclinic.web.outcomes.cells import shown

    now = timezone.now()
    tz = timezone.get_current_timezone()
    result, rules, inst = report["result"], report["rules"], report["instrument"]
    # An export leaves the clinic: small counts are suppressed for every reader.
    threshold = clinic.small_cell_threshold
    view = shown(report, threshold)
    doc = ReportPdf(
        f"Outcomes summary: {clinic.name}",
        [
            *filter_words(filters, choices),
            f"Prepared {local_minute(now, tz)} ({getattr(tz, 'key', str(tz))}). Aggregates only; no patient is "
            "identified. Observational figures from routine care, without a control group.",
        ],
    )
    doc.heading("Cohort")
    doc.para(
        f'Small numbers are withheld: any count from 1 to {threshold - 1} reads "fewer than {threshold}", '
        "and rates, intervals and charts that would reveal one are not shown (the clinic's threshold, after the "
        "CMS cell-size suppression policy).",
        size=8,
    )
    doc.table(
        ["Who is counted", "Courses"],
        [[label, text] for label, _, text in view["denominators"]],
        widths=(140, 42),
    )
    rows = [[label, n, rate, ci] for label, n, rate, ci in view["rate_display"]]
    rows.append(["Median time to first response", "", view["median_text"], ""])
    doc.table(["Outcome", "Patients", "Rate", "95 % confidence interval"], rows, widths=(70, 30, 30, 52))
    means = view["means_shown"]
    doc.heading(f"Mean {inst.short_title} score by week since the first dose (95 % band)")
    if means:
        doc.line_chart(
            [(m.week, m.mean) for m in means],
            x_range=(0, 12),
            y_range=(inst.total_min, inst.total_max),
            x_labels=[(w, f"week {w}") for w in (0, 4, 8, 12)],
            band=[(m.week, m.lo, m.hi) for m in means if m.lo is not None and m.hi is not None],
            threshold=(
                None
                if rules.remission is None
                else (
                    float(rules.remission.value),
                    f"Remission {'below' if rules.remission.op == 'lt' else 'at or below'} {rules.remission.value}",
                )
            ),
        )
        doc.table(
            ["Week", "Patients", "Mean", "95 % band"],
            [
                [str(m.week), str(m.n), f"{m.mean:.1f}", "" if m.lo is None else f"{m.lo:.1f} to {m.hi:.1f}"]
                for m in means
            ],
            widths=(30, 30, 30, 92),
        )
    else:
        doc.para("No evaluable patients.")
    doc.heading("Time to first response (Kaplan-Meier: share not yet responded)")
    curve = result.time_to_response
    if view["median_text"].startswith("withheld"):
        doc.para(f"Not drawn: it would show fewer than {threshold} patients.")
    elif curve.steps:
        pts: list[tuple[float, float]] = [(0.0, 1.0)]
        prev = 1.0
        for s in curve.steps:
            pts += [(days(s.time), prev), (days(s.time), float(s.survival))]
            prev = float(s.survival)
        span = max(days(curve.steps[-1].time), 7.0)
        doc.line_chart(
            pts, x_range=(0, span), y_range=(0, 1), x_labels=[(0, "day 0"), (span, f"day {span:.0f}")]
        )
    else:
        doc.para("No response observed.")
    doc.heading("Durability of response after induction")
    doc.para(f"{view['responders_text']} patients responded by the end of induction.")
    doc.table(
        ["Weeks after induction", "Still responding", "Rate", "95 % confidence interval"],
        [
            [
                str(p.weeks_after_induction),
                f"{p.still_responding.n} of {p.still_responding.of}",
                _pct(p.still_responding.rate),
                "not available"
                if p.still_responding.ci95 is None
                else f"{_pct(p.still_responding.ci95[0])} to {_pct(p.still_responding.ci95[1])}",
            ]
            for p in view["durability_shown"]
        ],
        widths=(45, 40, 40, 57),
    )
    doc.heading("Safety")
    doc.para(f"{view['sessions_text']} dosing sessions. A session counts once for each kind of event.")
    doc.table(
        ["Event", "Sessions with the event", "Per 100 sessions", "95 % confidence interval"],
        [[ev.label, n, per100, ci] for ev, n, per100, ci in view["safety_display"]],
        widths=(62, 40, 35, 45),
    )
    doc.heading("Definitions")
    for line in (
        f"Baseline: the latest score at or before the first dose and at most {rules.baseline_window.days} days before it.",
        "Evaluable: a baseline and at least one score after the first dose.",
        f"Response: a score at least {rules.response_pct} % below the baseline.",
        (
            "Remission: not defined for this measure."
            if rules.remission is None
            else f"Remission: a score {'below' if rules.remission.op == 'lt' else 'at or below'} {rules.remission.value}."
        ),
        "Rates: shares of evaluable patients with Wilson 95 % score intervals. Time to response: Kaplan-Meier, "
        "patients without a response counted until their latest score.",
    ):
        doc.para(line, size=8)
    return doc.output()
