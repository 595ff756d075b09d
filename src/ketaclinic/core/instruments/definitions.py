"""Instrument definitions: frozen dataclasses loaded and validated from the packaged data/*.yaml files."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

from ketaclinic.core.yamlfile import load_yaml

Op = Literal["eq", "ne", "gt", "ge", "lt", "le"]
_OPS: frozenset[str] = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})

#: Canonical order of the instrument library (the `score` contract; `cognition` is an extension).
INSTRUMENT_IDS: tuple[str, ...] = (
    "phq9",
    "gad7",
    "madrs",
    "qids-sr16",
    "pcl5",
    "ybocs",
    "ymrs",
    "cadss",
    "moaas",
    "pain-nrs",
    "bpic-ss",
    "cssrs-screener",
    "sds",
    "cognition",
    "peg",
    "craving",
    "side-effects",
)


class DefinitionError(ValueError):
    """A data file is malformed; the message names the file and the offending key."""


class UnknownInstrumentError(KeyError):
    """No instrument with this id."""

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        super().__init__(instrument_id)

    def __str__(self) -> str:
        return f"unknown instrument {self.instrument_id!r}; known: {', '.join(INSTRUMENT_IDS)}"


@dataclass(frozen=True, slots=True)
class Condition:
    """A boolean test on answers: a leaf (`item`, `op`, `value`) or a combination (`any` / `all`)."""

    item: int | None = None
    op: Op | None = None
    value: int | None = None
    any_of: tuple[Condition, ...] = ()
    all_of: tuple[Condition, ...] = ()

    def referenced_items(self) -> frozenset[int]:
        out: set[int] = set()
        if self.item is not None:
            out.add(self.item)
        for c in (*self.any_of, *self.all_of):
            out |= c.referenced_items()
        return frozenset(out)

    def describe(self) -> str:
        if self.item is not None:
            sym = {"eq": "=", "ne": "≠", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[self.op or "eq"]
            return f"item {self.item} {sym} {self.value}"
        if self.any_of:
            return "(" + " or ".join(c.describe() for c in self.any_of) + ")"
        return "(" + " and ".join(c.describe() for c in self.all_of) + ")"


@dataclass(frozen=True, slots=True)
class ResponseOption:
    value: int
    anchor: str
    loinc_answer: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One item: its 1-based position `n`, display `code` (e.g. "6b"), allowed values and optional wording."""

    n: int
    code: str
    label: str
    options: tuple[ResponseOption, ...]
    text: str | None = None
    loinc: str | None = None
    asked_if: Condition | None = None
    skip_strict: bool = False

    @property
    def allowed_values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    @property
    def min_value(self) -> int:
        return min(self.allowed_values)

    @property
    def max_value(self) -> int:
        return max(self.allowed_values)

    def anchor_for(self, value: int) -> str | None:
        for o in self.options:
            if o.value == value:
                return o.anchor
        return None


@dataclass(frozen=True, slots=True)
class Band:
    code: str
    label: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class FlagRule:
    code: str
    when: Condition
    message: str
    source: str
    suicide_risk: bool = False


@dataclass(frozen=True, slots=True)
class SuicideRiskRule:
    """An answer pattern that raises the blocking suicide-risk alert without adding an output flag (e.g.
    QIDS-SR16 item 12 >= 2, while the `suicidal_ideation` flag stays at item 12 > 0)."""

    when: Condition
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class Domain:
    """A scoring domain (QIDS-SR16): items combined by `max` or `sum`."""

    code: str
    items: tuple[int, ...]
    combine: Literal["max", "sum"]


@dataclass(frozen=True, slots=True)
class Subscale:
    code: str
    items: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RiskLevel:
    code: str
    label: str
    when: Condition


@dataclass(frozen=True, slots=True)
class LoincRef:
    code: str
    source: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """A versioned instrument definition (see data/<id>.yaml)."""

    id: str
    version: str
    title: str
    short_title: str
    respondent: str
    remote_allowed: bool
    wording_included: bool
    stem: str | None
    licence: str
    source: str
    items: tuple[Item, ...]
    scoring_method: Literal["sum", "domains", "mean", "none"]
    #: Decimal places of a `mean` total (rounded half away from zero); 0 for integer totals.
    total_decimals: int
    domains: tuple[Domain, ...]
    subscales: tuple[Subscale, ...]
    bands: tuple[Band, ...]
    bands_source: str | None
    flags: tuple[FlagRule, ...]
    risk_levels: tuple[RiskLevel, ...]
    risk_default: str | None
    risk_order: tuple[str, ...]
    suicide_risk_levels: tuple[str, ...]
    suicide_risk_rules: tuple[SuicideRiskRule, ...]
    loinc_panel: LoincRef | None
    loinc_total: LoincRef | None
    loinc_risk_level: LoincRef | None
    notes: tuple[str, ...]

    @property
    def has_total(self) -> bool:
        return self.scoring_method != "none"

    @property
    def total_min(self) -> float:
        return self._total_bound(lambda i: i.min_value)

    @property
    def total_max(self) -> float:
        return self._total_bound(lambda i: i.max_value)

    def _total_bound(self, pick: Callable[[Item], int]) -> float:
        by_n = {i.n: i for i in self.items}
        if self.scoring_method == "mean":
            return self.mean_total([pick(i) for i in self.items])
        if self.scoring_method == "domains":
            acc = 0
            for d in self.domains:
                vals = [pick(by_n[n]) for n in d.items]
                acc += max(vals) if d.combine == "max" else sum(vals)
            return acc
        return sum(pick(i) for i in self.items)

    def mean_total(self, values: list[int]) -> float:
        """The mean of `values` rounded half away from zero to `total_decimals` places (an int if whole)."""
        exact = Decimal(sum(values)) / Decimal(len(values))
        rounded = exact.quantize(Decimal(1).scaleb(-self.total_decimals), rounding=ROUND_HALF_UP)
        return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)

    def item(self, n: int) -> Item:
        for i in self.items:
            if i.n == n:
                return i
        raise KeyError(n)

    def band_for(self, total: float) -> Band | None:
        for b in self.bands:
            if b.low <= total <= b.high:
                return b
        return None


# ---------------------------------------------------------------- loading


def _req(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise DefinitionError(f"{where}: missing key {key!r}")
    return d[key]


def _str(d: dict[str, Any], key: str, where: str) -> str:
    v = _req(d, key, where)
    if not isinstance(v, str) or not v.strip():
        raise DefinitionError(f"{where}.{key}: must be a non-empty string")
    return v


def _int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise DefinitionError(f"{where}: must be an integer, got {v!r}")
    return int(v)


def _condition(raw: Any, where: str, n_items: int) -> Condition:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{where}: condition must be a mapping")
    if "any" in raw or "all" in raw:
        key = "any" if "any" in raw else "all"
        parts = raw[key]
        if not isinstance(parts, list) or not parts:
            raise DefinitionError(f"{where}.{key}: must be a non-empty list")
        subs = tuple(_condition(p, f"{where}.{key}[{k}]", n_items) for k, p in enumerate(parts))
        return Condition(any_of=subs) if key == "any" else Condition(all_of=subs)
    item = _int(_req(raw, "item", where), f"{where}.item")
    if not 1 <= item <= n_items:
        raise DefinitionError(f"{where}.item: {item} is not an item of this instrument")
    op = _req(raw, "op", where)
    if op not in _OPS:
        raise DefinitionError(f"{where}.op: {op!r} is not one of {sorted(_OPS)}")
    return Condition(item=item, op=op, value=_int(_req(raw, "value", where), f"{where}.value"))


def _loinc(raw: Any, where: str) -> LoincRef | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DefinitionError(f"{where}: must be a mapping or null")
    return LoincRef(code=_str(raw, "code", where), source=_str(raw, "source", where))


def parse_instrument(raw: Any, filename: str) -> Instrument:
    """Validate one instrument document; raise DefinitionError naming the file and key on any problem."""
    w = filename
    if not isinstance(raw, dict):
        raise DefinitionError(f"{w}: top level must be a mapping")
    iid = _str(raw, "id", w)
    version = _str(raw, "version", w)
    sets_raw = _req(raw, "response_sets", w)
    if not isinstance(sets_raw, dict) or not sets_raw:
        raise DefinitionError(f"{w}.response_sets: must be a non-empty mapping")
    sets: dict[str, tuple[ResponseOption, ...]] = {}
    for name, opts in sets_raw.items():
        if not isinstance(opts, list) or not opts:
            raise DefinitionError(f"{w}.response_sets.{name}: must be a non-empty list")
        parsed = tuple(
            ResponseOption(
                value=_int(
                    _req(o, "value", f"{w}.response_sets.{name}[{k}]"), f"{w}.response_sets.{name}[{k}].value"
                ),
                anchor=_str(o, "anchor", f"{w}.response_sets.{name}[{k}]"),
                loinc_answer=o.get("loinc_answer"),
            )
            for k, o in enumerate(opts)
        )
        values = [o.value for o in parsed]
        if values != list(range(min(values), max(values) + 1)):
            raise DefinitionError(f"{w}.response_sets.{name}: values must be consecutive integers in order")
        sets[str(name)] = parsed
    items_raw = _req(raw, "items", w)
    if not isinstance(items_raw, list) or not items_raw:
        raise DefinitionError(f"{w}.items: must be a non-empty list")
    n_items = len(items_raw)
    items: list[Item] = []
    for k, it in enumerate(items_raw):
        iw = f"{w}.items[{k}]"
        n = _int(_req(it, "n", iw), f"{iw}.n")
        if n != k + 1:
            raise DefinitionError(f"{iw}.n: expected {k + 1} (items are in canonical order), got {n}")
        rs = _str(it, "response_set", iw)
        if rs not in sets:
            raise DefinitionError(f"{iw}.response_set: unknown set {rs!r}")
        asked_if = _condition(it["asked_if"], f"{iw}.asked_if", n_items) if "asked_if" in it else None
        if asked_if is not None and any(r >= n for r in asked_if.referenced_items()):
            raise DefinitionError(f"{iw}.asked_if: may only depend on earlier items")
        text = it.get("text")
        if text is not None and not raw.get("wording_included", False):
            raise DefinitionError(f"{iw}.text: item wording present but the licence does not allow it")
        items.append(
            Item(
                n=n,
                code=str(it.get("code", n)),
                label=_str(it, "label", iw),
                options=sets[rs],
                text=text,
                loinc=it.get("loinc"),
                asked_if=asked_if,
                skip_strict=bool(it.get("skip_strict", False)),
            )
        )
    scoring = _req(raw, "scoring", w)
    method = _req(scoring, "method", f"{w}.scoring")
    if method not in ("sum", "domains", "mean", "none"):
        raise DefinitionError(f"{w}.scoring.method: {method!r} is not sum, domains, mean or none")
    total_decimals = 0
    if method == "mean":
        total_decimals = _int(_req(scoring, "decimals", f"{w}.scoring"), f"{w}.scoring.decimals")
        if not 0 <= total_decimals <= 4:
            raise DefinitionError(f"{w}.scoring.decimals: must be 0-4")
    domains: list[Domain] = []
    if method == "domains":
        seen: set[int] = set()
        for k, d in enumerate(_req(scoring, "domains", f"{w}.scoring")):
            dw = f"{w}.scoring.domains[{k}]"
            d_items = tuple(_int(x, dw) for x in _req(d, "items", dw))
            if seen & set(d_items) or any(not 1 <= x <= n_items for x in d_items):
                raise DefinitionError(f"{dw}.items: items must be valid and used by one domain only")
            seen |= set(d_items)
            combine = _req(d, "combine", dw)
            if combine not in ("max", "sum"):
                raise DefinitionError(f"{dw}.combine: must be max or sum")
            domains.append(Domain(code=_str(d, "code", dw), items=d_items, combine=combine))
        if seen != set(range(1, n_items + 1)):
            raise DefinitionError(f"{w}.scoring.domains: every item must belong to exactly one domain")
    subscales: list[Subscale] = []
    sub_raw = scoring.get("subscales")
    if sub_raw is not None:
        _str(sub_raw, "source", f"{w}.scoring.subscales")
        for k, s in enumerate(_req(sub_raw, "list", f"{w}.scoring.subscales")):
            sw = f"{w}.scoring.subscales.list[{k}]"
            s_items = tuple(_int(x, sw) for x in _req(s, "items", sw))
            if any(not 1 <= x <= n_items for x in s_items):
                raise DefinitionError(f"{sw}.items: not items of this instrument")
            subscales.append(Subscale(code=_str(s, "code", sw), items=s_items))

    bands: list[Band] = []
    bands_source: str | None = None
    bands_raw = raw.get("bands")
    if bands_raw is not None:
        bands_source = _str(bands_raw, "source", f"{w}.bands")
        for k, b in enumerate(_req(bands_raw, "levels", f"{w}.bands")):
            bw = f"{w}.bands.levels[{k}]"
            bands.append(
                Band(
                    code=_str(b, "code", bw),
                    label=_str(b, "label", bw),
                    low=_int(_req(b, "low", bw), f"{bw}.low"),
                    high=_int(_req(b, "high", bw), f"{bw}.high"),
                )
            )
    flags = tuple(
        FlagRule(
            code=_str(f, "code", f"{w}.flags[{k}]"),
            when=_condition(_req(f, "when", f"{w}.flags[{k}]"), f"{w}.flags[{k}].when", n_items),
            message=_str(f, "message", f"{w}.flags[{k}]"),
            source=_str(f, "source", f"{w}.flags[{k}]"),
            suicide_risk=bool(f.get("suicide_risk", False)),
        )
        for k, f in enumerate(raw.get("flags") or [])
    )
    risk_levels: list[RiskLevel] = []
    risk_default: str | None = None
    risk_order: tuple[str, ...] = ()
    risk_raw = raw.get("risk")
    if risk_raw is not None:
        _str(risk_raw, "source", f"{w}.risk")
        risk_default = _str(risk_raw, "default", f"{w}.risk")
        risk_order = tuple(str(x) for x in _req(risk_raw, "order", f"{w}.risk"))
        for k, r in enumerate(_req(risk_raw, "levels", f"{w}.risk")):
            rw = f"{w}.risk.levels[{k}]"
            risk_levels.append(
                RiskLevel(
                    code=_str(r, "code", rw),
                    label=_str(r, "label", rw),
                    when=_condition(_req(r, "when", rw), f"{rw}.when", n_items),
                )
            )
        codes = {r.code for r in risk_levels} | {risk_default}
        if codes != set(risk_order):
            raise DefinitionError(f"{w}.risk.order: must list exactly the risk levels and the default")
    if method == "none" and risk_raw is None:
        raise DefinitionError(f"{w}: an instrument without a total needs a risk rule")
    suicide_levels = tuple(str(x) for x in raw.get("suicide_risk_levels") or ())
    for lv in suicide_levels:
        if lv not in risk_order:
            raise DefinitionError(f"{w}.suicide_risk_levels: {lv!r} is not one of the risk levels")
    loinc_raw = raw.get("loinc") or {}
    notes = tuple(str(raw[k]) for k in ("bands_note", "skip_source", "loinc_items_source") if k in raw)
    if isinstance(loinc_raw, dict) and loinc_raw.get("note"):
        notes = (*notes, str(loinc_raw["note"]))
    inst = Instrument(
        id=iid,
        version=version,
        title=_str(raw, "title", w),
        short_title=_str(raw, "short_title", w),
        respondent=_str(raw, "respondent", w),
        remote_allowed=bool(raw.get("remote_allowed", False)),
        wording_included=bool(raw.get("wording_included", False)),
        stem=raw.get("stem"),
        licence=_str(raw, "licence", w),
        source=_str(raw, "source", w),
        items=tuple(items),
        scoring_method=method,
        total_decimals=total_decimals,
        domains=tuple(domains),
        subscales=tuple(subscales),
        bands=tuple(bands),
        bands_source=bands_source,
        flags=flags,
        risk_levels=tuple(risk_levels),
        risk_default=risk_default,
        risk_order=risk_order,
        suicide_risk_levels=suicide_levels,
        suicide_risk_rules=tuple(
            SuicideRiskRule(
                when=_condition(
                    _req(r, "when", f"{w}.suicide_risk_rules[{k}]"),
                    f"{w}.suicide_risk_rules[{k}].when",
                    n_items,
                ),
                message=_str(r, "message", f"{w}.suicide_risk_rules[{k}]"),
                source=_str(r, "source", f"{w}.suicide_risk_rules[{k}]"),
            )
            for k, r in enumerate(raw.get("suicide_risk_rules") or [])
        ),
        loinc_panel=_loinc(loinc_raw.get("panel"), f"{w}.loinc.panel"),
        loinc_total=_loinc(loinc_raw.get("total"), f"{w}.loinc.total"),
        loinc_risk_level=_loinc(loinc_raw.get("risk_level"), f"{w}.loinc.risk_level"),
        notes=notes,
    )
    if inst.bands:
        ordered = sorted(inst.bands, key=lambda b: b.low)
        if list(ordered) != list(inst.bands):
            raise DefinitionError(f"{w}.bands: levels must be in ascending order")
        if ordered[0].low != inst.total_min or ordered[-1].high != inst.total_max:
            raise DefinitionError(
                f"{w}.bands: must cover the total range {inst.total_min}-{inst.total_max} exactly"
            )
        for a, b in itertools.pairwise(ordered):
            if a.high + 1 != b.low or a.low > a.high:
                raise DefinitionError(f"{w}.bands: {a.code} and {b.code} are not contiguous")
    return inst


COMPILED = "compiled.json"


@cache
def _compiled() -> dict[str, Any]:
    """data/compiled.json: every instrument file already parsed, keyed by file with the SHA-256 of its text."""
    import json

    try:
        raw = resources.files("ketaclinic.core.instruments").joinpath("data", COMPILED).read_text("utf-8")
    except FileNotFoundError:
        return {}
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}


def _parsed(filename: str, text: str) -> Any:
    """The YAML file's content: from the precompiled copy when it was made from exactly this text (so the
    `score` command need not import the YAML parser), else parsed now. `python -m
    ketaclinic.core.instruments.compile` refreshes the copy; a test fails when it is stale."""
    import hashlib

    entry = _compiled().get(filename)
    if isinstance(entry, dict) and entry.get("sha256") == hashlib.sha256(text.encode("utf-8")).hexdigest():
        return entry["content"]
    return load_yaml(text)


@cache
def load_instrument(instrument_id: str) -> Instrument:
    """Load (cached) the instrument `instrument_id` from data/<id>.yaml."""
    if instrument_id not in INSTRUMENT_IDS:
        raise UnknownInstrumentError(instrument_id)
    filename = f"{instrument_id}.yaml"
    text = (
        resources.files("ketaclinic.core.instruments").joinpath("data", filename).read_text(encoding="utf-8")
    )
    inst = parse_instrument(_parsed(filename, text), filename)
    if inst.id != instrument_id:
        raise DefinitionError(f"{filename}.id: expected {instrument_id!r}, got {inst.id!r}")
    return inst


def all_instruments() -> tuple[Instrument, ...]:
    """Every instrument, in canonical order."""
    return tuple(load_instrument(i) for i in INSTRUMENT_IDS)
