"""Jurisdiction rule packs (data/jurisdictions.yaml), report deadlines in business days, and entry validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from ketaclinic.core.ledger.entries import EntryType
from ketaclinic.core.yamlfile import load_yaml

_STATUSES = {"V", "S", "R"}
REGISTER_COLUMN_CODES = frozenset(
    {
        "date",
        "time",
        "entry",
        "lot",
        "patient_name",
        "patient_address",
        "counterparty",
        "authority",
        "quantity_in",
        "quantity_out",
        "person",
        "witness",
        "balance",
    }
)


class RulesError(ValueError):
    """The jurisdiction data file is malformed."""


@dataclass(frozen=True, slots=True)
class Sourced:
    """A value with its citation and status (V verified, S secondary, R recalled/configurable)."""

    value: Any
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A reporting deadline counted from the day a theft or loss is discovered."""

    code: str
    label: str
    business_days: int | None
    calendar_days: int | None
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class RegisterColumn:
    code: str
    header: str
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """Everything the ledger needs to know about one jurisdiction's controlled-substance record keeping."""

    code: str
    name: str
    aliases: tuple[str, ...]
    schedule: Sourced
    waste_witnesses: Sourced
    destruction_witnesses: Sourced
    breakage_witnesses: Sourced
    retention_years: Sourced
    initial_inventory: Sourced
    inventory_interval_years: Sourced
    inventory_opening_or_close: Sourced
    entry_timing: Sourced
    deadlines: tuple[DeadlineRule, ...]
    register_title: str
    register_group_by: tuple[str, ...]
    running_balance: Sourced
    register_columns: tuple[RegisterColumn, ...]


@dataclass(frozen=True, slots=True)
class RuleBook:
    version: int
    jurisdictions: tuple[Jurisdiction, ...]

    def get(self, code: str) -> Jurisdiction:
        """The jurisdiction for a code or alias, case-insensitive; a sub-national code (US-CA, AU-VIC)
        falls back to its country. Unknown codes raise KeyError naming the known ones."""
        wanted = code.strip().upper()
        for candidate in (wanted, wanted.split("-")[0]):
            for j in self.jurisdictions:
                if candidate == j.code or candidate in j.aliases:
                    return j
        known = ", ".join(j.code for j in self.jurisdictions)
        raise KeyError(f"unknown jurisdiction {code!r} (known: {known})")


def _sourced(node: Any, where: str) -> Sourced:
    if not isinstance(node, dict) or "value" not in node:
        raise RulesError(f"{where}: expected a mapping with value, source and status")
    source, status = node.get("source"), node.get("status")
    if not isinstance(source, str) or not source.strip():
        raise RulesError(f"{where}.source: missing")
    if status not in _STATUSES:
        raise RulesError(f"{where}.status: must be one of V, S, R, got {status!r}")
    return Sourced(node["value"], source, status)


def _int_sourced(node: Any, where: str, *, minimum: int) -> Sourced:
    s = _sourced(node, where)
    if not isinstance(s.value, int) or isinstance(s.value, bool) or s.value < minimum:
        raise RulesError(f"{where}.value: must be an integer >= {minimum}, got {s.value!r}")
    return s


def _mapping(node: Any, where: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise RulesError(f"{where}: expected a mapping")
    return node


def parse_rulebook(raw: Any) -> RuleBook:
    """Validate and build a RuleBook from the parsed YAML; raises RulesError naming the bad path."""
    root = _mapping(raw, "jurisdictions.yaml")
    version = root.get("version")
    if not isinstance(version, int):
        raise RulesError("version: must be an integer")
    out: list[Jurisdiction] = []
    for code, node in _mapping(root.get("jurisdictions"), "jurisdictions").items():
        w = f"jurisdictions.{code}"
        j = _mapping(node, w)
        wit = _mapping(j.get("witnesses"), f"{w}.witnesses")
        inv = _mapping(j.get("inventory"), f"{w}.inventory")
        reg = _mapping(j.get("register"), f"{w}.register")
        deadlines: list[DeadlineRule] = []
        for i, d in enumerate(j.get("deadlines") or []):
            dw = f"{w}.deadlines[{i}]"
            d = _mapping(d, dw)
            bd, cd = d.get("business_days"), d.get("calendar_days")
            if (bd is None) == (cd is None):
                raise RulesError(f"{dw}: exactly one of business_days or calendar_days")
            for name, val in (("business_days", bd), ("calendar_days", cd)):
                if val is not None and (not isinstance(val, int) or val < 0):
                    raise RulesError(f"{dw}.{name}: must be a non-negative integer")
            if not d.get("code") or not d.get("label") or not d.get("source"):
                raise RulesError(f"{dw}: code, label and source are required")
            if d.get("status") not in _STATUSES:
                raise RulesError(f"{dw}.status: must be one of V, S, R")
            deadlines.append(
                DeadlineRule(str(d["code"]), str(d["label"]), bd, cd, str(d["source"]), str(d["status"]))
            )
        columns: list[RegisterColumn] = []
        for i, c in enumerate(reg.get("columns") or []):
            cw = f"{w}.register.columns[{i}]"
            c = _mapping(c, cw)
            if c.get("code") not in REGISTER_COLUMN_CODES:
                raise RulesError(f"{cw}.code: unknown column {c.get('code')!r}")
            if not c.get("header") or not c.get("source") or c.get("status") not in _STATUSES:
                raise RulesError(f"{cw}: header, source and status (V/S/R) are required")
            columns.append(RegisterColumn(c["code"], c["header"], c["source"], c["status"]))
        if not columns:
            raise RulesError(f"{w}.register.columns: at least one column")
        interval = _sourced(inv.get("interval_years"), f"{w}.inventory.interval_years")
        if interval.value is not None and (not isinstance(interval.value, int) or interval.value < 1):
            raise RulesError(f"{w}.inventory.interval_years.value: a positive integer or null")
        out.append(
            Jurisdiction(
                code=str(code),
                name=str(j.get("name") or code),
                aliases=tuple(str(a).upper() for a in j.get("aliases") or ()),
                schedule=_sourced(j.get("schedule"), f"{w}.schedule"),
                waste_witnesses=_int_sourced(wit.get("waste"), f"{w}.witnesses.waste", minimum=0),
                destruction_witnesses=_int_sourced(
                    wit.get("destruction"), f"{w}.witnesses.destruction", minimum=1
                ),
                breakage_witnesses=_int_sourced(wit.get("breakage"), f"{w}.witnesses.breakage", minimum=0),
                retention_years=_int_sourced(j.get("retention_years"), f"{w}.retention_years", minimum=1),
                initial_inventory=_sourced(inv.get("initial"), f"{w}.inventory.initial"),
                inventory_interval_years=interval,
                inventory_opening_or_close=_sourced(
                    inv.get("opening_or_close"), f"{w}.inventory.opening_or_close"
                ),
                entry_timing=_sourced(j.get("entry_timing"), f"{w}.entry_timing"),
                deadlines=tuple(deadlines),
                register_title=str(reg.get("title") or ""),
                register_group_by=tuple(reg.get("group_by") or ()),
                running_balance=_sourced(reg.get("running_balance"), f"{w}.register.running_balance"),
                register_columns=tuple(columns),
            )
        )
    if not out:
        raise RulesError("jurisdictions: at least one")
    return RuleBook(version=version, jurisdictions=tuple(out))


@cache
def load_rules() -> RuleBook:
    """The packaged rule book (cached)."""
    text = resources.files("ketaclinic.core.ledger").joinpath("data/jurisdictions.yaml").read_text("utf-8")
    return parse_rulebook(load_yaml(text))


def jurisdiction(code: str) -> Jurisdiction:
    return load_rules().get(code)


# --- business days -------------------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    # 5 U.S.C. 6103(b) / Executive Order 11582: Saturday holidays are observed on Friday, Sunday on Monday.
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


@cache
def us_federal_holidays(year: int) -> frozenset[date]:
    """Observed US federal holidays (5 U.S.C. 6103(a); Juneteenth from 2021), when federal offices close."""
    days = {
        _observed(date(year, 1, 1)),
        _nth_weekday(year, 1, 0, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _observed(date(year, 11, 11)),
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving Day
        _observed(date(year, 12, 25)),
    }
    if year >= 2021:
        days.add(_observed(date(year, 6, 19)))
    # New Year's Day of the next year falling on a Saturday is observed on 31 December of this year.
    if date(year + 1, 1, 1).weekday() == 5:
        days.add(date(year, 12, 31))
    return frozenset(days)


def is_business_day(
    d: date, *, jurisdiction_code: str = "US", closures: frozenset[date] = frozenset()
) -> bool:
    """Monday to Friday, not a closure date and (for the US) not an observed federal holiday."""
    if d.weekday() >= 5 or d in closures:
        return False
    return not (jurisdiction_code == "US" and d in us_federal_holidays(d.year))


def add_business_days(
    start: date, n: int, *, jurisdiction_code: str = "US", closures: frozenset[date] = frozenset()
) -> date:
    """The n-th business day after `start` (n = 0: `start` itself)."""
    d = start
    for _ in range(n):
        d += timedelta(days=1)
        while not is_business_day(d, jurisdiction_code=jurisdiction_code, closures=closures):
            d += timedelta(days=1)
    return d


@dataclass(frozen=True, slots=True)
class Deadline:
    code: str
    label: str
    due: date
    source: str
    status: str


def report_deadlines(
    discovered_on: date, rules: Jurisdiction, *, closures: frozenset[date] = frozenset()
) -> tuple[Deadline, ...]:
    """Deadlines that start when a theft or significant loss is discovered (end of day `due`)."""
    out: list[Deadline] = []
    for d in rules.deadlines:
        if d.business_days is not None:
            due = add_business_days(
                discovered_on, d.business_days, jurisdiction_code=rules.code, closures=closures
            )
        else:
            assert d.calendar_days is not None
            due = discovered_on + timedelta(days=d.calendar_days)
        out.append(Deadline(d.code, d.label, due, d.source, d.status))
    return tuple(out)


def next_inventory_due(last_inventory_on: date | None, rules: Jurisdiction) -> date | None:
    """When the next full inventory is due (US: within 2 years of the last), None when no interval applies.

    With no inventory yet and an initial inventory required, it is due now (returns date.min)."""
    interval = rules.inventory_interval_years.value
    if last_inventory_on is None:
        return date.min if rules.initial_inventory.value else None
    if interval is None:
        return None
    try:
        return last_inventory_on.replace(year=last_inventory_on.year + interval)
    except ValueError:  # 29 February
        return last_inventory_on.replace(year=last_inventory_on.year + interval, day=28)


# --- entry validation ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """A reason an entry cannot be recorded, naming the field."""

    field: str
    message: str


def check_entry(
    entry_type: EntryType,
    *,
    rules: Jurisdiction,
    quantity: Decimal,
    actor: str,
    location: str | None = None,
    to_location: str | None = None,
    session: str | None = None,
    patient: str | None = None,
    witnesses: tuple[str, ...] = (),
    reason: str = "",
    expected_quantity: Decimal | None = None,
) -> list[Issue]:
    """Every structural problem with a proposed entry (empty when it may be recorded).

    Balances are checked separately, against the stored ledger, by the caller that holds the chain lock.
    """
    issues: list[Issue] = []

    def need(cond: bool, field: str, message: str) -> None:
        if not cond:
            issues.append(Issue(field, message))

    if not quantity.is_finite():
        issues.append(Issue("quantity", "must be a number"))
        return issues
    if entry_type is EntryType.ADJUSTMENT:
        need(quantity != 0, "quantity", "an adjustment must change the balance (non-zero)")
        need(bool(reason.strip()), "reason", "an adjustment needs a reason")
    elif entry_type is EntryType.COUNT:
        need(quantity >= 0, "quantity", "the counted quantity cannot be negative")
        need(expected_quantity is not None, "expected_quantity", "a count records the expected balance")
    else:
        need(quantity > 0, "quantity", "must be greater than zero")

    stock_side = {
        EntryType.RECEIPT,
        EntryType.TRANSFER,
        EntryType.WITHDRAWAL,
        EntryType.RETURN_TO_STOCK,
        EntryType.RETURN_TO_SUPPLIER,
        EntryType.DESTRUCTION,
        EntryType.COUNT,
        EntryType.ADJUSTMENT,
        EntryType.THEFT_LOSS,
    }
    if entry_type in stock_side or (entry_type is EntryType.WASTE and session is None):
        need(location is not None, "location", "a storage location is required")
    if entry_type is EntryType.TRANSFER:
        need(to_location is not None, "to_location", "a destination location is required")
        need(
            to_location is None or to_location != location,
            "to_location",
            "must differ from the source location",
        )
    elif to_location is not None:
        issues.append(Issue("to_location", "only a transfer has a destination"))

    session_side = {
        EntryType.WITHDRAWAL,
        EntryType.ADMINISTRATION,
        EntryType.RETURN_TO_STOCK,
    }
    if entry_type in session_side:
        need(session is not None, "session", "a dosing session is required")
    elif entry_type is not EntryType.WASTE and session is not None:
        issues.append(Issue("session", f"a {entry_type.label.lower()} is not tied to a session"))
    if entry_type is EntryType.ADMINISTRATION:
        need(patient is not None, "patient", "an administration names the patient")
    if entry_type is EntryType.ADMINISTRATION or (entry_type is EntryType.WASTE and session is not None):
        # The location a session's stock came from: it scopes registers; it does not move storage stock.
        need(location is not None, "location", "the storage location the session's stock came from")

    rule: Sourced | None = None
    if entry_type is EntryType.WASTE:
        rule = rules.waste_witnesses if session is not None else rules.breakage_witnesses
    elif entry_type is EntryType.DESTRUCTION:
        rule = rules.destruction_witnesses
    required = 0 if rule is None else int(rule.value)
    if len(set(witnesses)) != len(witnesses):
        issues.append(Issue("witnesses", "the same person cannot witness twice"))
    if actor in witnesses:
        issues.append(Issue("witnesses", "the person recording the entry cannot also be its witness"))
    if rule is not None and len(set(witnesses) - {actor}) < required:
        plural = "es" if required != 1 else ""
        issues.append(
            Issue(
                "witnesses",
                f"a {entry_type.label.lower()} needs {required} witness{plural} ({rules.code}: {rule.source})",
            )
        )
    if entry_type in {EntryType.THEFT_LOSS, EntryType.DESTRUCTION}:
        need(bool(reason.strip()), "reason", f"a {entry_type.label.lower()} needs a description")
    return issues
