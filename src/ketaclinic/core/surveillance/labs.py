"""Laboratory results for surveillance: the LOINC catalogue (data/labs.yaml), validation, FHIR Observations.

`check_lab(...)` returns every issue of one result; `lab_observation(...)` builds its FHIR R4 Observation;
`parse_lab_bundle(bundle)` reads the supported Observations of a FHIR Bundle, reporting every problem with its
path (`entry[2].resource.valueQuantity.value`) and skipping resources that are not supported lab tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

LOINC_SYSTEM = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
LabKind = Literal["dipstick", "quantity"]


@dataclass(frozen=True, slots=True)
class LabTest:
    loinc: str
    name: str
    kind: LabKind
    values: tuple[str, ...]
    unit: str | None
    source: str


@dataclass(frozen=True, slots=True)
class LabFact:
    """One result, validated: a dipstick reading (text) or a quantity (number, unit, reference range)."""

    loinc: str
    taken_at: datetime
    value_text: str = ""
    value_number: Decimal | None = None
    unit: str = ""
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None

    @property
    def out_of_range(self) -> bool:
        if self.value_number is None:
            return self.value_text != "negative"
        if self.reference_high is not None and self.value_number > self.reference_high:
            return True
        return self.reference_low is not None and self.value_number < self.reference_low


@cache
def lab_tests() -> tuple[LabTest, ...]:
    raw = yaml.safe_load(
        resources.files("ketaclinic.core.surveillance")
        .joinpath("data", "labs.yaml")
        .read_text(encoding="utf-8")
    )
    return tuple(
        LabTest(
            loinc=str(t["loinc"]),
            name=str(t["name"]),
            kind=t["kind"],
            values=tuple(str(v) for v in t.get("values") or ()),
            unit=t.get("unit"),
            source=str(t["source"]),
        )
        for t in raw
    )


def lab_test(loinc: str) -> LabTest | None:
    return next((t for t in lab_tests() if t.loinc == loinc), None)


def _decimal(v: Any, field: str, issues: dict[str, str], *, positive: bool = False) -> Decimal | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        issues[field] = "must be a number"
        return None
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        issues[field] = "must be a number"
        return None
    if not d.is_finite() or abs(d) >= Decimal("10000000"):
        issues[field] = "must be a finite number below 10,000,000"
        return None
    if d < 0 or (positive and d == 0):
        issues[field] = "must be greater than 0" if positive else "must not be negative"
        return None
    return d


def check_lab(
    *,
    loinc: Any,
    value: Any,
    taken_at: Any,
    unit: Any = "",
    reference_low: Any = None,
    reference_high: Any = None,
) -> tuple[LabFact | None, dict[str, str]]:
    """Validate one result; return (fact, {}) or (None, {field: reason, ...}) with every issue found."""
    issues: dict[str, str] = {}
    test = lab_test(loinc) if isinstance(loinc, str) else None
    if test is None:
        issues["loinc"] = f"must be one of {', '.join(f'{t.loinc} ({t.name})' for t in lab_tests())}"
    if not isinstance(taken_at, datetime) or taken_at.tzinfo is None:
        issues["taken_at"] = "must be a date and time with a time zone"
    text = ""
    number: Decimal | None = None
    low = _decimal(reference_low, "reference_low", issues)
    high = _decimal(reference_high, "reference_high", issues, positive=True)
    unit_text = str(unit or "").strip()
    if test is not None and test.kind == "dipstick":
        text = str(value or "").strip().lower()
        if text not in test.values:
            issues["value"] = f"must be one of {', '.join(test.values)}"
        if low is not None or high is not None:
            issues["reference_high" if high is not None else "reference_low"] = (
                "a dipstick has no numeric range"
            )
    elif test is not None:
        if value is None or (isinstance(value, str) and not value.strip()):
            issues["value"] = "is required"
        else:
            number = _decimal(value, "value", issues)
        unit_text = unit_text or (test.unit or "")
        if test.unit and unit_text != test.unit:
            issues["unit"] = f"must be {test.unit}"
        if low is not None and high is not None and low >= high:
            issues["reference_low"] = "must be below the reference high"
    if len(unit_text) > 20:
        issues["unit"] = "must be at most 20 characters"
    if issues or test is None or not isinstance(taken_at, datetime):
        return None, issues
    return (
        LabFact(
            loinc=test.loinc,
            taken_at=taken_at,
            value_text=text,
            value_number=number,
            unit=unit_text if test.kind == "quantity" else "",
            reference_low=low,
            reference_high=high,
        ),
        {},
    )


def _num(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def lab_observation(fact: LabFact, *, observation_id: str, patient_id: str) -> dict[str, Any]:
    """The result as a FHIR R4 laboratory Observation (LOINC code, value, reference range, interpretation)."""
    test = lab_test(fact.loinc)
    name = test.name if test else fact.loinc
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": fact.loinc, "display": name}], "text": name},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": fact.taken_at.isoformat(),
    }
    if fact.value_number is not None:
        obs["valueQuantity"] = {
            "value": _num(fact.value_number),
            "unit": fact.unit,
            "system": UCUM,
            "code": fact.unit,
        }
        rng: dict[str, Any] = {}
        if fact.reference_low is not None:
            rng["low"] = {
                "value": _num(fact.reference_low),
                "unit": fact.unit,
                "system": UCUM,
                "code": fact.unit,
            }
        if fact.reference_high is not None:
            rng["high"] = {
                "value": _num(fact.reference_high),
                "unit": fact.unit,
                "system": UCUM,
                "code": fact.unit,
            }
        if rng:
            obs["referenceRange"] = [rng]
    else:
        obs["valueString"] = fact.value_text
    if fact.value_number is None or fact.reference_high is not None or fact.reference_low is not None:
        code, display = ("A", "Abnormal") if fact.out_of_range else ("N", "Normal")
        if fact.value_number is not None and fact.out_of_range:
            high = fact.reference_high is not None and fact.value_number > fact.reference_high
            code, display = ("H", "High") if high else ("L", "Low")
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}]
    return obs


@dataclass(frozen=True, slots=True)
class BundleIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _time(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _quantity_value(q: Any) -> tuple[Any, str]:
    if not isinstance(q, Mapping):
        return None, ""
    return q.get("value"), str(q.get("code") or q.get("unit") or "")


def parse_lab_bundle(bundle: Any) -> tuple[list[LabFact], list[BundleIssue]]:
    """Read the supported laboratory Observations of a FHIR Bundle. Unsupported codes are skipped; a supported
    Observation with a problem is reported (path and reason), never half-read."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        return [], [BundleIssue("$", "must be a FHIR Bundle (resourceType Bundle)")]
    entries = bundle.get("entry")
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        return [], [BundleIssue("entry", "must be a list")]
    facts: list[LabFact] = []
    issues: list[BundleIssue] = []
    for i, e in enumerate(entries):
        res = e.get("resource") if isinstance(e, Mapping) else None
        where = f"entry[{i}].resource"
        if not isinstance(res, Mapping) or res.get("resourceType") != "Observation":
            continue
        codings = (res.get("code") or {}).get("coding") if isinstance(res.get("code"), Mapping) else None
        loinc = next(
            (
                c.get("code")
                for c in codings or []
                if isinstance(c, Mapping) and c.get("system") == LOINC_SYSTEM and lab_test(str(c.get("code")))
            ),
            None,
        )
        if loinc is None:
            continue
        if res.get("status") in ("entered-in-error", "cancelled"):
            continue
        taken = _time(res.get("effectiveDateTime"))
        if taken is None:
            issues.append(BundleIssue(f"{where}.effectiveDateTime", "must be a date-time with a time zone"))
            continue
        low = high = None
        rr = res.get("referenceRange")
        if isinstance(rr, Sequence) and rr and isinstance(rr[0], Mapping):
            low = _quantity_value(rr[0].get("low"))[0]
            high = _quantity_value(rr[0].get("high"))[0]
        if "valueQuantity" in res:
            value, unit = _quantity_value(res.get("valueQuantity"))
        elif "valueString" in res:
            value, unit = res.get("valueString"), ""
        elif isinstance(res.get("valueCodeableConcept"), Mapping):
            vcc = res["valueCodeableConcept"]
            value, unit = (
                vcc.get("text")
                or next((c.get("display") for c in vcc.get("coding") or [] if isinstance(c, Mapping)), None),
                "",
            )
        else:
            issues.append(BundleIssue(where, "has no value"))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = "nan"
        fact, errs = check_lab(
            loinc=loinc, value=value, taken_at=taken, unit=unit, reference_low=low, reference_high=high
        )
        if fact is None:
            paths = {
                "value": "valueQuantity.value" if "valueQuantity" in res else "value",
                "unit": "valueQuantity.code",
                "reference_low": "referenceRange[0].low.value",
                "reference_high": "referenceRange[0].high.value",
            }
            issues.extend(BundleIssue(f"{where}.{paths.get(k, k)}", m) for k, m in errs.items())
            continue
        facts.append(fact)
    return facts, issues
