"""Opioid load in morphine milligram equivalents per day (MME/day) by the CDC 2022 conversion factors.

The factors, routes, thresholds and finding texts are data (data/mme.yaml, each with its source):

    daily dose   = dose (mg) x doses per day             for an opioid dosed in mg
                 = patch strength (mcg/h)                for a fentanyl patch (doses per day ignored:
                                                         a patch delivers continuously)
    MME/day      = daily dose x factor                    (Dowell 2022, Table)
    total        = sum of MME/day over the medications that convert

A medication converts only when the table has a factor for its ingredient and route: buprenorphine has none
(a partial agonist), and the factors are for oral doses (fentanyl: the patch), so an injected or buccal dose
is not converted rather than understated. Such an item has no MME, the result is `complete=False` and the
total is a lower bound. An unknown drug is an error, never a guess. Arithmetic is exact (Decimal); MME
values are rounded half away from zero to 2 decimals, and the thresholds compare the rounded total.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ketaclinic.core.errors import CoreValidationError

UNITS: tuple[str, ...] = ("mg", "mcg/h")
#: A schedule of more than 24 doses a day is not a schedule (a typo, or a total entered as a count).
MAX_DOSES_PER_DAY = Decimal(24)
_CENT = Decimal("0.01")
_SALT_WORDS = frozenset(
    {"hydrochloride", "hcl", "sulfate", "sulphate", "bitartrate", "citrate", "phosphate", "tartrate"}
)


class MmeDataError(ValueError):
    """data/mme.yaml is malformed; the message names the key."""


class MmeInputError(CoreValidationError):
    """Bad input. `field` names the offending item, e.g. "medications[2].unit"."""


@dataclass(frozen=True, slots=True)
class Opioid:
    """One opioid ingredient of the table. `factor` None: recognised but never converted (buprenorphine)."""

    name: str
    rxcui: str
    factor: Decimal | None
    routes: tuple[str, ...]
    unit: str | None
    synonyms: tuple[str, ...]
    source: str
    caution: str | None
    not_convertible: str | None


@dataclass(frozen=True, slots=True)
class FindingRule:
    code: str
    level: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class MmeTable:
    """The versioned factor table and rules (data/mme.yaml)."""

    version: str
    source: str
    opioids: tuple[Opioid, ...]
    route_aliases: Mapping[str, str]
    routes: tuple[str, ...]
    warn_mme: Decimal
    high_mme: Decimal
    findings: Mapping[str, FindingRule]
    sparing_reduction_pct: int = 25
    sparing_source: str = ""

    def by_name(self, name: str) -> Opioid | None:
        """The opioid named `name` (ingredient or brand, any case; salt words such as "HCl" ignored)."""
        key = _name_key(name)
        for o in self.opioids:
            if key == o.name or key in {_name_key(s) for s in o.synonyms}:
                return o
        return None

    def by_rxcui(self, code: str) -> Opioid | None:
        return next((o for o in self.opioids if o.rxcui == code), None)

    def route(self, text: str) -> str | None:
        return self.route_aliases.get(" ".join(text.lower().split()))

    def rule(self, code: str) -> FindingRule:
        return self.findings[code]


@dataclass(frozen=True, slots=True)
class MedicationDose:
    """One validated medication line. `doses_per_day` is None for a continuous rate (mcg/h)."""

    opioid: Opioid
    route: str
    dose: Decimal
    unit: str
    doses_per_day: Decimal | None


@dataclass(frozen=True, slots=True)
class MmeRequest:
    medications: tuple[MedicationDose, ...]
    benzodiazepine: bool = False
    overdose_history: bool = False


@dataclass(frozen=True, slots=True)
class MmeItem:
    """One medication's load. `mme_per_day`/`factor` are None when it does not convert (`reason` says why)."""

    name: str
    rxcui: str
    route: str
    daily_dose: Decimal
    daily_unit: str
    factor: Decimal | None
    mme_per_day: Decimal | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class MmeFinding:
    code: str
    level: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class MmeResult:
    """The opioid load. `total_mme_per_day` is a lower bound when `complete` is False."""

    version: str
    total_mme_per_day: Decimal
    complete: bool
    items: tuple[MmeItem, ...]
    findings: tuple[MmeFinding, ...]

    @property
    def finding_codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `ketaclinic mme --json` (see docs/cli.md)."""
        return {
            "total_mme_per_day": json_number(self.total_mme_per_day),
            "complete": self.complete,
            "items": [
                {
                    "name": i.name,
                    "mme_per_day": None if i.mme_per_day is None else json_number(i.mme_per_day),
                    "factor": None if i.factor is None else json_number(i.factor),
                }
                for i in self.items
            ],
            "findings": [
                {"code": f.code, "level": f.level, "message": f.message, "source": f.source}
                for f in self.findings
            ],
        }


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number: an int when whole (60, not 60.0), else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def format_number(value: Decimal) -> str:
    """A Decimal for people: no trailing zeros ("37.5", "60")."""
    return f"{json_number(value)}"


def _name_key(text: str) -> str:
    words = [w for w in re.split(r"[\s\-]+", text.strip().lower()) if w]
    kept = [w for w in words if w not in _SALT_WORDS]
    return " ".join(kept or words)


# ---------------------------------------------------------------- loading


def _req(d: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise MmeDataError(f"mme.yaml {where}: missing key {key!r}")
    return d[key]


def _decimal(v: Any, where: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise MmeDataError(f"mme.yaml {where}: must be a number, got {v!r}")
    return Decimal(str(v))


def parse_table(raw: Any) -> MmeTable:
    """Validate the data document; raise MmeDataError naming the key on any problem."""
    if not isinstance(raw, Mapping):
        raise MmeDataError("mme.yaml: top level must be a mapping")
    routes_raw = _req(raw, "routes", "")
    aliases: dict[str, str] = {}
    for route, words in routes_raw.items():
        for w in (route, *words):
            aliases[" ".join(str(w).lower().split())] = str(route)
    opioids: list[Opioid] = []
    for k, o in enumerate(_req(raw, "opioids", "")):
        w = f"opioids[{k}]"
        factor_raw = _req(o, "factor", w)
        factor = None if factor_raw is None else _decimal(factor_raw, f"{w}.factor")
        routes = tuple(str(r) for r in _req(o, "routes", w))
        if any(r not in routes_raw for r in routes):
            raise MmeDataError(f"mme.yaml {w}.routes: not all of {routes} are listed under routes")
        unit = o.get("unit")
        if factor is not None and (unit not in UNITS or not routes):
            raise MmeDataError(f"mme.yaml {w}: a factor needs a unit ({' or '.join(UNITS)}) and routes")
        if factor is None and not o.get("not_convertible"):
            raise MmeDataError(f"mme.yaml {w}.not_convertible: an opioid without a factor must say why")
        opioids.append(
            Opioid(
                name=str(_req(o, "name", w)),
                rxcui=str(_req(o, "rxcui", w)),
                factor=factor,
                routes=routes,
                unit=unit,
                synonyms=tuple(str(s) for s in o.get("synonyms") or ()),
                source=str(_req(o, "source", w)),
                caution=o.get("caution"),
                not_convertible=o.get("not_convertible"),
            )
        )
    thresholds = _req(raw, "thresholds", "")
    findings = {
        str(code): FindingRule(
            code=str(code),
            level=str(_req(f, "level", f"findings.{code}")),
            message=str(_req(f, "message", f"findings.{code}")),
            source=str(_req(f, "source", f"findings.{code}")),
        )
        for code, f in _req(raw, "findings", "").items()
    }
    needed = {
        "mme_50_or_more",
        "mme_90_or_more",
        "naloxone_offer",
        "benzodiazepine_with_opioid",
        "not_convertible",
    }
    if set(findings) != needed:
        raise MmeDataError(f"mme.yaml findings: must define exactly {sorted(needed)}")
    sparing = _req(raw, "sparing", "")
    reduction = _req(sparing, "reduction_pct", "sparing")
    if isinstance(reduction, bool) or not isinstance(reduction, int) or not 1 <= reduction <= 100:
        raise MmeDataError("mme.yaml sparing.reduction_pct: must be an integer 1-100")
    return MmeTable(
        sparing_reduction_pct=reduction,
        sparing_source=str(_req(sparing, "source", "sparing")),
        version=str(_req(raw, "version", "")),
        source=str(_req(raw, "source", "")),
        opioids=tuple(opioids),
        route_aliases=aliases,
        routes=tuple(str(r) for r in routes_raw),
        warn_mme=_decimal(_req(thresholds, "warn_mme", "thresholds"), "thresholds.warn_mme"),
        high_mme=_decimal(_req(thresholds, "high_mme", "thresholds"), "thresholds.high_mme"),
        findings=findings,
    )


@cache
def load_mme_table() -> MmeTable:
    """The packaged CDC 2022 table (cached)."""
    text = resources.files("ketaclinic.core.pain").joinpath("data", "mme.yaml").read_text(encoding="utf-8")
    return parse_table(yaml.safe_load(text))


# ---------------------------------------------------------------- input


def _number(v: Any, field: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise MmeInputError(field, f"must be a number, got {v!r}")
    if v <= 0:
        raise MmeInputError(field, f"must be greater than 0, got {v!r}")
    return Decimal(str(v))


def _opioid(table: MmeTable, m: Mapping[str, Any], where: str) -> Opioid:
    name, rxcui = m.get("name"), m.get("rxcui")
    if name is None and rxcui is None:
        raise MmeInputError(f"{where}.name", "give the opioid's name or its RxNorm ingredient code (rxcui)")
    by_name: Opioid | None = None
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise MmeInputError(f"{where}.name", f"must be a non-empty string, got {name!r}")
        by_name = table.by_name(name)
        if by_name is None:
            known = ", ".join(o.name for o in table.opioids)
            raise MmeInputError(
                f"{where}.name",
                f"unknown opioid {name!r}; a guessed MME is dangerous, so only these are accepted: {known}",
            )
    if rxcui is None:
        assert by_name is not None
        return by_name
    code = str(rxcui).strip() if isinstance(rxcui, int | str) and not isinstance(rxcui, bool) else None
    by_code = table.by_rxcui(code) if code else None
    if by_code is None:
        listed = ", ".join(f"{o.rxcui} {o.name}" for o in table.opioids)
        raise MmeInputError(
            f"{where}.rxcui", f"{rxcui!r} is not the RxNorm ingredient code of a listed opioid ({listed})"
        )
    if by_name is not None and by_name is not by_code:
        raise MmeInputError(
            f"{where}.rxcui",
            f"{code} is {by_code.name}, but the name says {by_name.name}; give one or fix one",
        )
    return by_code


def _medication(table: MmeTable, m: Any, where: str) -> MedicationDose:
    if not isinstance(m, Mapping):
        raise MmeInputError(where, "must be an object with name or rxcui, route, dose, unit, doses_per_day")
    opioid = _opioid(table, m, where)
    route_raw = m.get("route")
    if not isinstance(route_raw, str) or not route_raw.strip():
        raise MmeInputError(
            f"{where}.route", f"required (one of {', '.join(table.routes)}), got {route_raw!r}"
        )
    route = table.route(route_raw)
    if route is None:
        raise MmeInputError(
            f"{where}.route", f"unknown route {route_raw!r}; use one of {', '.join(table.routes)}"
        )
    dose = _number(m.get("dose"), f"{where}.dose")
    unit = m.get("unit")
    if unit not in UNITS:
        raise MmeInputError(f"{where}.unit", f"must be {' or '.join(UNITS)}, got {unit!r}")
    if opioid.unit == "mcg/h" and route in opioid.routes and unit != "mcg/h":
        raise MmeInputError(
            f"{where}.unit", f"a {opioid.name} patch is dosed by its strength in mcg/h, not {unit}"
        )
    if unit == "mcg/h" and opioid.factor is not None and opioid.unit != "mcg/h":
        raise MmeInputError(
            f"{where}.unit", f"mcg/h is a patch strength; {opioid.name} is dosed in mg per dose"
        )
    doses_per_day: Decimal | None = None
    if unit == "mg":  # a rate in mcg/h is continuous: doses_per_day is ignored
        doses_per_day = _number(m.get("doses_per_day"), f"{where}.doses_per_day")
        if doses_per_day > MAX_DOSES_PER_DAY:
            raise MmeInputError(
                f"{where}.doses_per_day", f"{m.get('doses_per_day')!r} is more than {MAX_DOSES_PER_DAY} a day"
            )
    return MedicationDose(opioid=opioid, route=route, dose=dose, unit=unit, doses_per_day=doses_per_day)


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    v = raw.get(key, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise MmeInputError(key, f"must be true or false, got {v!r}")
    return v


def parse_mme_request(raw: Any, table: MmeTable | None = None) -> MmeRequest:
    """Validate `{"medications": [...], "benzodiazepine"?, "overdose_history"?}`; MmeInputError names the field."""
    table = table or load_mme_table()
    if not isinstance(raw, Mapping):
        raise MmeInputError("MEDICATIONS", "must be a JSON object with a medications list")
    meds = raw.get("medications")
    if not isinstance(meds, list):
        raise MmeInputError("medications", f"required: a list of medications, got {meds!r}")
    return MmeRequest(
        medications=tuple(_medication(table, m, f"medications[{k}]") for k, m in enumerate(meds)),
        benzodiazepine=_flag(raw, "benzodiazepine"),
        overdose_history=_flag(raw, "overdose_history"),
    )


# ---------------------------------------------------------------- calculation


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _daily_dose(med: MedicationDose) -> Decimal:
    return med.dose if med.doses_per_day is None else med.dose * med.doses_per_day


def _not_convertible_reason(med: MedicationDose) -> str | None:
    o = med.opioid
    if o.factor is None:
        return o.not_convertible
    if med.route in o.routes:
        return None
    if o.unit == "mcg/h":
        return f"{o.name} by the {med.route} route has no factor: the CDC 2022 table converts patches only."
    return (
        f"{o.name} by the {med.route} route has no factor: the CDC 2022 factors are for oral doses, "
        "and the oral factor would understate it."
    )


def _item(med: MedicationDose) -> MmeItem:
    o = med.opioid
    daily = _daily_dose(med)
    unit = "mcg/h" if med.unit == "mcg/h" else "mg/day"
    reason = _not_convertible_reason(med)
    if reason is not None or o.factor is None:
        return MmeItem(o.name, o.rxcui, med.route, _round(daily), unit, None, None, reason)
    return MmeItem(o.name, o.rxcui, med.route, _round(daily), unit, o.factor, _round(daily * o.factor), None)


def calculate_mme(request: MmeRequest, table: MmeTable | None = None) -> MmeResult:
    """The opioid load of `request` with its findings (thresholds, naloxone, benzodiazepine, not convertible)."""
    table = table or load_mme_table()
    items = tuple(_item(m) for m in request.medications)
    exact = Decimal(0)
    for med, item in zip(request.medications, items, strict=True):
        if item.factor is not None:
            exact += _daily_dose(med) * item.factor
    total = _round(exact)
    complete = all(i.mme_per_day is not None for i in items)
    shown = format_number(total) if complete else f"at least {format_number(total)}"
    findings: list[MmeFinding] = []

    def add(code: str, **fmt: str) -> None:
        rule = table.rule(code)
        findings.append(MmeFinding(code, rule.level, rule.message.format(**fmt), rule.source))

    if total >= table.warn_mme:
        add("mme_50_or_more", total=shown)
    if total >= table.high_mme:
        add("mme_90_or_more", total=shown)
    if items:
        reasons = []
        if total >= table.warn_mme:
            reasons.append(f"opioid load {shown} MME/day (50 or more)")
        if request.benzodiazepine:
            reasons.append("a benzodiazepine is also prescribed")
        if request.overdose_history:
            reasons.append("history of overdose")
        if reasons:
            add("naloxone_offer", reasons="; ".join(reasons))
        if request.benzodiazepine:
            add("benzodiazepine_with_opioid")
    for i in items:
        if i.reason is not None:
            add("not_convertible", reason=i.reason[:1].upper() + i.reason[1:])
    return MmeResult(
        version=table.version,
        total_mme_per_day=total,
        complete=complete,
        items=items,
        findings=tuple(findings),
    )


def mme_for(raw: Any, table: MmeTable | None = None) -> MmeResult:
    """Parse and calculate in one call (raises MmeInputError on bad input)."""
    table = table or load_mme_table()
    return calculate_mme(parse_mme_request(raw, table), table)


def opioid_choices(table: MmeTable | None = None) -> Sequence[Opioid]:
    """Every listed opioid, in table order (for pick lists)."""
    return (table or load_mme_table()).opioids
