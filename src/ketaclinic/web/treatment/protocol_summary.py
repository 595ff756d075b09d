"""A protocol in words for the protocol page: its dose rules, limits and checks as label/value rows with sources.

The definition itself (YAML, the same schema as the packaged protocols) stays available to download and to edit;
this is what a clinician reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ketaclinic.core.instruments.definitions import all_instruments

EVIDENCE = {"V": "verified", "S": "secondary source", "R": "configurable default"}
ROUTES = {
    "iv": "intravenous",
    "im": "intramuscular",
    "intranasal": "intranasal",
    "oral": "oral",
    "sublingual": "sublingual",
}
PREGNANCY = {
    "never": "not required",
    "if_childbearing_potential": "if the patient could be pregnant",
    "always": "always",
}
LEVEL = {"warn": "warns", "block": "blocks"}


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    source: str = ""
    evidence: str = ""


def _num(v: float) -> str:
    return f"{v:g}"


def _instrument(instrument_id: str) -> str:
    known = {i.id: i.short_title for i in all_instruments()}
    return (
        known.get(instrument_id)
        or known.get(instrument_id.replace("_", "-"))
        or instrument_id.replace("_", " ")
    )


def _sourced(label: str, s: Any, unit: str) -> Row | None:
    if s is None:
        return None
    return Row(label, f"{_num(s.value)} {unit}".strip(), s.source, EVIDENCE.get(s.evidence, s.evidence))


def protocol_rows(p: Any) -> list[Row]:
    """The protocol `p` (core Protocol) as rows a clinician reads."""
    per = "mg/kg" if p.dose.basis == "mg_per_kg" else "mg"
    rows: list[Row | None] = [
        Row("Drug", str(p.drug)),
        Row("Route", ", ".join(ROUTES.get(r, r) for r in p.routes)),
        Row("Indication", p.indication),
        Row("Dose basis", "by body weight (mg/kg)" if per == "mg/kg" else "fixed dose (mg)"),
        _sourced("Usual dose", p.dose.default, per),
        _sourced("Warns above", p.dose.warn_above, per),
        _sourced("Blocks above", p.dose.block_above, per),
        _sourced("Blocks a single dose above", p.dose.block_above_mg, "mg"),
        _sourced("First dose at most", p.dose.first_dose_max_mg, "mg"),
        _sourced("First dose at most, age 65 or over", p.dose.first_dose_max_mg_age_65_plus, "mg"),
    ]
    if p.infusion is not None:
        rows += [
            _sourced("Usual infusion length", p.infusion.default_duration_min, "min"),
            _sourced("Longest infusion", p.infusion.max_duration_min, "min"),
            _sourced("Most per session", p.infusion.session_max_mg_per_kg, "mg/kg"),
            _sourced("Blocks a rate above", p.infusion.rate_block_above_mg_per_kg_h, "mg/kg per hour"),
        ]
    rows += [
        _sourced("Warns when doses are closer than", p.interval.warn_below_hours, "hours"),
        _sourced("Blocks when doses are closer than", p.interval.block_below_hours, "hours"),
    ]
    for c in p.cumulative:
        limits = [
            f"{c.max_doses} doses" if c.max_doses is not None else "",
            f"{_num(c.max_mg)} mg" if c.max_mg is not None else "",
            f"{_num(c.max_mg_per_kg)} mg/kg" if c.max_mg_per_kg is not None else "",
        ]
        what = " or ".join(x for x in limits if x) or "any dose"
        rows.append(
            Row(
                f"In any {_num(c.window_days)} days",
                f"{LEVEL.get(c.level, c.level)} above {what}",
                c.source,
                EVIDENCE.get(c.evidence, c.evidence),
            )
        )
    ra = p.required_assessments
    rows += [
        Row("Before each dose", ", ".join(_instrument(i) for i in ra.before_each_dose) or "none", ra.source),
        _sourced("No food for", p.pre_dose.fasting_food_hours, "hours"),
        _sourced("No drinks for", p.pre_dose.fasting_liquids_hours, "hours"),
        Row("Escort home", "required" if p.pre_dose.transport_home_required else "not required"),
        Row(
            "Pregnancy test",
            PREGNANCY.get(p.pre_dose.pregnancy_test, p.pre_dose.pregnancy_test),
            p.pre_dose.pregnancy_source,
        ),
        Row("REMS enrolment", "required" if p.pre_dose.rems_enrolment_required else "not required"),
        _sourced(
            "Discharge no sooner than after the dose ends", p.discharge.min_minutes_after_dose_end, "min"
        ),
        _sourced(
            "Discharge no sooner than after the first dose", p.discharge.min_minutes_after_first_dose, "min"
        ),
    ]
    if p.course_max_weeks is not None:
        rows.append(_sourced("Longest course", p.course_max_weeks, "weeks"))
    return [r for r in rows if r is not None]
