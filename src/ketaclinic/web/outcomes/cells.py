"""What the outcomes page and the clinic summary show of each figure, after small-cell suppression.

`shown(report, threshold)` turns the report's numbers into the words people read; with a threshold (researchers
on the page, everyone in the summary PDF) counts from 1 to threshold-1 read "fewer than N", and every rate,
interval, median, chart or band that would reveal one is withheld with a note saying why
(core/outcomes/suppression.py states the rule). Threshold 0: everything is shown.
"""

from __future__ import annotations

from typing import Any

from ketaclinic.core.outcomes.suppression import fewer_than, hidden_parts, is_small, proportion_hidden


def _pct(v: float | None) -> str:
    return "not available" if v is None else f"{v * 100:.1f} %"


def _ci(ci: tuple[float, float] | None) -> str:
    return "not available" if ci is None else f"{_pct(ci[0])} to {_pct(ci[1])}"


def shown(report: dict[str, Any], threshold: int) -> dict[str, Any]:
    """Display rows for the cohort table, rates, median, safety and durability, and which charts to draw."""
    from ketaclinic.web.outcomes import charts

    result, rules = report["result"], report["rules"]
    t = threshold if threshold > 1 else 0
    withheld = "withheld (small numbers)"
    parts = {
        "not-dosed": result.not_evaluable["no_first_dose"],
        "no-baseline": result.not_evaluable["no_baseline"],
        "lost": report["lost_to_follow_up"],
        "evaluable": result.evaluable,
    }
    hidden = (
        hidden_parts(parts, t)
        if t and not is_small(result.n, t)
        else frozenset(k for k, v in parts.items() if v > 0 and t)
    )

    def count(key: str, n: int) -> str:
        if t and (is_small(n, t) or key in hidden):
            return fewer_than(t) if is_small(n, t) else withheld
        return str(n)

    denominators = [
        ("Courses enrolled", "enrolled", fewer_than(t) if t and is_small(result.n, t) else str(result.n)),
        ("Not yet dosed", "not-dosed", count("not-dosed", parts["not-dosed"])),
        (
            f"No baseline score within {rules.baseline_window.days} days before the first dose",
            "no-baseline",
            count("no-baseline", parts["no-baseline"]),
        ),
        ("Lost to follow-up (no score after the first dose)", "lost", count("lost", parts["lost"])),
        ("Evaluable", "evaluable", count("evaluable", parts["evaluable"])),
    ]
    few_evaluable = bool(t) and (is_small(result.evaluable, t) or "evaluable" in hidden)
    rates = []
    for label, prop in report["rate_rows"]:
        if t and (few_evaluable or proportion_hidden(prop.n, prop.of, t)):
            rates.append((label, withheld, withheld, withheld))
        else:
            rates.append((label, f"{prop.n} of {prop.of}", _pct(prop.rate), _ci(prop.ci95)))
    med = result.median_days_to_response
    if few_evaluable:
        median = withheld
    else:
        median = "not reached" if med is None else f"{med:.1f} days after the first dose"
    safety = []
    for r in report["safety"]:
        if t and (is_small(r.sessions_with_event, t) or is_small(report["sessions"], t)):
            safety.append((r.event, fewer_than(t), withheld, withheld))
        else:
            ci = r.ci95_per_100
            safety.append(
                (
                    r.event,
                    str(r.sessions_with_event),
                    "not available" if r.per_100 is None else f"{r.per_100:.1f}",
                    "not available" if ci is None else f"{ci[0]:.1f} to {ci[1]:.1f}",
                )
            )
    means = [m for m in report["means"] if not (t and is_small(m.n, t))]
    durable = [
        p
        for p in report["durability"]
        if not (t and proportion_hidden(p.still_responding.n, p.still_responding.of, t))
    ]
    responders = report["induction_responders"]
    out: dict[str, Any] = {
        "small_cells": t,
        "denominators": denominators,
        "rate_display": rates,
        "median_text": median,
        "safety_display": safety,
        "sessions_text": fewer_than(t) if t and is_small(report["sessions"], t) else str(report["sessions"]),
        "means_shown": means,
        "durability_shown": durable,
        "responders_text": fewer_than(t) if t and is_small(responders, t) else str(responders),
        "suppressed_any": bool(t)
        and (
            bool(hidden)
            or few_evaluable
            or any(r[1] == withheld for r in rates)
            or len(means) < len(report["means"])
            or len(durable) < len(report["durability"])
            or any(s[2] == withheld for s in safety)
        ),
    }
    if t:
        inst = report["instrument"]
        ch = dict(report["charts"])
        ch["weekly"] = charts.weekly_means_svg(
            tuple(means), rules, lo=inst.total_min, hi=inst.total_max, instrument=inst.short_title
        )
        if few_evaluable:
            ch["waterfall"] = charts.withheld_svg("waterfall", "Change from baseline", t)
            ch["km"] = charts.withheld_svg("km", "Time to first response", t)
        ch["durability"] = (
            charts.withheld_svg("durability", "Durability of response", t)
            if is_small(responders, t)
            else charts.durability_svg(tuple(durable), responders)
        )
        withheld_rate = few_evaluable or proportion_hidden(result.response.n, result.response.of, t)
        withheld_last = few_evaluable or proportion_hidden(result.response_last.n, result.response_last.of, t)
        ch["reference"] = charts.reference_svg(
            [
                (
                    "Response at any score",
                    None if withheld_rate else result.response.rate,
                    None if withheld_rate else result.response.ci95,
                ),
                (
                    "At the latest score",
                    None if withheld_last else result.response_last.rate,
                    None if withheld_last else result.response_last.ci95,
                ),
            ],
            report["references"],
        )
        out["charts"] = ch
    return out
