"""Load and query the packaged value sets: ICD-10-CM subtrees, SNOMED CT concept lists, RxNorm ingredients, LOINC."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import simple_icd_10_cm as icd
import yaml

from ketaclinic.core.yamlfile import load_yaml

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

#: Code systems a Condition may be coded in for screening (docs/cli.md).
CONDITION_SYSTEMS = frozenset({ICD10CM, SNOMED})


class TerminologyError(ValueError):
    """A value-set data file is malformed (raised at load time, naming the file and the field)."""


@dataclass(frozen=True, slots=True)
class CodeMatch:
    """Why a code matched a value set: the value-set id and the include root (or listed concept) it fell under."""

    value_set: str
    root: str


@dataclass(frozen=True, slots=True)
class Icd10Set:
    id: str
    title: str
    source: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    #: A code whose own ICD-10-CM title matches one of these is left out (e.g. "complicating the puerperium":
    #: the pregnancy has ended), with the reason stated beside each pattern in the data file.
    exclude_titles: tuple[re.Pattern[str], ...] = ()

    def title_excluded(self, code: str) -> bool:
        if not self.exclude_titles:
            return False
        title = _icd_title(code)
        return any(p.search(title) for p in self.exclude_titles)


@dataclass(frozen=True, slots=True)
class ConceptSet:
    id: str
    title: str
    source: str
    concepts: frozenset[str]


@dataclass(frozen=True, slots=True)
class Ingredient:
    code: str | None  # None: matched by name only (no RxNorm ingredient code confirmed)
    name: str
    synonyms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IngredientSet:
    id: str
    title: str
    source: str
    ingredients: tuple[Ingredient, ...]
    codes: frozenset[str]
    name_pattern: re.Pattern[str]

    def match_code(self, code: str) -> Ingredient | None:
        for ing in self.ingredients:
            if ing.code is not None and ing.code == code.strip():
                return ing
        return None

    def match_name(self, text: str) -> Ingredient | None:
        m = self.name_pattern.search(text)
        if m is None:
            return None
        word = m.group(0).lower()
        for ing in self.ingredients:
            if word == ing.name.lower() or word in (s.lower() for s in ing.synonyms):
                return ing
        return None  # pragma: no cover - the pattern is built from these names


def icd10cm_normalize(code: str) -> str | None:
    """Return the dotted, upper-case form of an ICD-10-CM code, or None if it is not a valid ICD-10-CM item."""
    c = code.strip().upper()
    if not c or not icd.is_valid_item(c):
        return None
    if "-" in c:  # a block such as F20-F29
        return c
    return str(icd.add_dot(c))


@dataclass(frozen=True, slots=True)
class Terminology:
    """Every value set the screening engine can reference, keyed by `<system-alias>:<id>`."""

    versions: dict[str, str]
    icd10cm: dict[str, Icd10Set]
    snomed: dict[str, ConceptSet]
    rxnorm: dict[str, IngredientSet]
    loinc: dict[str, frozenset[str]]

    def icd10cm_match(self, value_set: str, code: str) -> CodeMatch | None:
        """Does ICD-10-CM `code` (valid, normalised) fall in the subtree of an include root and outside every exclude?"""
        vs = self.icd10cm[value_set]
        lineage = _icd_lineage(code)
        if any(x in lineage for x in vs.exclude) or vs.title_excluded(code):
            return None
        for root in vs.include:
            if root in lineage:
                return CodeMatch(value_set, root)
        return None

    def snomed_match(self, value_set: str, code: str) -> CodeMatch | None:
        c = code.strip()
        if c in self.snomed[value_set].concepts:
            return CodeMatch(value_set, c)
        return None

    def has_value_set(self, ref: str) -> bool:
        alias, _, name = ref.partition(":")
        tables: dict[str, Mapping[str, object]] = {
            "icd10cm": self.icd10cm,
            "snomed": self.snomed,
            "rxnorm": self.rxnorm,
        }
        return name in tables.get(alias, {})


@functools.lru_cache(maxsize=8192)
def _icd_lineage(code: str) -> frozenset[str]:
    return frozenset([code, *icd.get_ancestors(code)])


@functools.lru_cache(maxsize=8192)
def _icd_title(code: str) -> str:
    return str(icd.get_description(code)) if icd.is_valid_item(code) else ""


def _title_patterns(body: Any, where: str) -> tuple[re.Pattern[str], ...]:
    items = body.get("exclude_titles", []) if isinstance(body, dict) else []
    if not isinstance(items, list):
        raise TerminologyError(f"{where}.exclude_titles: must be a list")
    out = []
    for i, item in enumerate(items):
        pattern = _req_str(item, "pattern", f"{where}.exclude_titles[{i}]")
        _req_str(item, "reason", f"{where}.exclude_titles[{i}]")
        try:
            out.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise TerminologyError(
                f"{where}.exclude_titles[{i}].pattern: not a regular expression ({exc})"
            ) from None
    return tuple(out)


def _load_yaml(name: str) -> dict[str, Any]:
    text = resources.files("ketaclinic.core.terminology").joinpath("data", name).read_text(encoding="utf-8")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise TerminologyError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TerminologyError(f"{name}: top level must be a mapping")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise TerminologyError(f"{name}: version: required string")
    return data


def _req_str(obj: Any, key: str, where: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get(key), str) or not str(obj[key]).strip():
        raise TerminologyError(f"{where}.{key}: required non-empty string")
    return str(obj[key]).strip()


def _value_sets(data: dict[str, Any], name: str) -> dict[str, Any]:
    sets = data.get("value_sets")
    if not isinstance(sets, dict) or not sets:
        raise TerminologyError(f"{name}: value_sets: required non-empty mapping")
    return sets


def _load_icd10cm() -> tuple[str, dict[str, Icd10Set]]:
    name = "icd10cm.yaml"
    data = _load_yaml(name)
    if data.get("system") != ICD10CM:
        raise TerminologyError(f"{name}: system: must be {ICD10CM}")
    out: dict[str, Icd10Set] = {}
    for vs_id, body in _value_sets(data, name).items():
        where = f"{name}: value_sets.{vs_id}"
        roots: dict[str, tuple[str, ...]] = {}
        for key in ("include", "exclude"):
            items = body.get(key, []) if isinstance(body, dict) else None
            if not isinstance(items, list) or (key == "include" and not items):
                raise TerminologyError(
                    f"{where}.{key}: must be a list" + (" (non-empty)" if key == "include" else "")
                )
            codes = []
            for i, item in enumerate(items):
                raw = _req_str(item, "code", f"{where}.{key}[{i}]")
                norm = icd10cm_normalize(raw)
                if norm is None:
                    raise TerminologyError(f"{where}.{key}[{i}].code: {raw!r} is not an ICD-10-CM code")
                _req_str(item, "title", f"{where}.{key}[{i}]")
                codes.append(norm)
            roots[key] = tuple(codes)
        out[vs_id] = Icd10Set(
            id=vs_id,
            title=_req_str(body, "title", where),
            source=_req_str(body, "source", where),
            include=roots["include"],
            exclude=roots["exclude"],
            exclude_titles=_title_patterns(body, where),
        )
    return str(data["version"]), out


def _load_snomed() -> tuple[str, dict[str, ConceptSet]]:
    name = "snomed.yaml"
    data = _load_yaml(name)
    if data.get("system") != SNOMED:
        raise TerminologyError(f"{name}: system: must be {SNOMED}")
    out: dict[str, ConceptSet] = {}
    for vs_id, body in _value_sets(data, name).items():
        where = f"{name}: value_sets.{vs_id}"
        items = body.get("concepts") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise TerminologyError(f"{where}.concepts: required non-empty list")
        codes = set()
        for i, item in enumerate(items):
            code = _req_str(item, "code", f"{where}.concepts[{i}]")
            if not re.fullmatch(r"[1-9][0-9]{5,17}", code):
                raise TerminologyError(f"{where}.concepts[{i}].code: {code!r} is not a SNOMED CT concept id")
            _req_str(item, "display", f"{where}.concepts[{i}]")
            codes.add(code)
        out[vs_id] = ConceptSet(
            id=vs_id,
            title=_req_str(body, "title", where),
            source=_req_str(body, "source", where),
            concepts=frozenset(codes),
        )
    return str(data["version"]), out


def _load_rxnorm() -> tuple[str, dict[str, IngredientSet]]:
    name = "rxnorm.yaml"
    data = _load_yaml(name)
    if data.get("system") != RXNORM:
        raise TerminologyError(f"{name}: system: must be {RXNORM}")
    out: dict[str, IngredientSet] = {}
    for vs_id, body in _value_sets(data, name).items():
        where = f"{name}: value_sets.{vs_id}"
        items = body.get("ingredients") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise TerminologyError(f"{where}.ingredients: required non-empty list")
        ings: list[Ingredient] = []
        for i, item in enumerate(items):
            w = f"{where}.ingredients[{i}]"
            code: str | None = None
            if not (isinstance(item, dict) and item.get("code") is None and item.get("name_only") is True):
                code = _req_str(item, "code", w)
                if not code.isdigit():
                    raise TerminologyError(f"{w}.code: {code!r} is not an RxNorm RXCUI")
            syn = item.get("synonyms", [])
            if not isinstance(syn, list) or not all(isinstance(s, str) and s.strip() for s in syn):
                raise TerminologyError(f"{w}.synonyms: must be a list of names")
            ings.append(Ingredient(code=code, name=_req_str(item, "name", w), synonyms=tuple(syn)))
        words = sorted({w.lower() for ing in ings for w in (ing.name, *ing.synonyms)}, key=len, reverse=True)
        pattern = re.compile(
            r"(?<![A-Za-z0-9])(" + "|".join(re.escape(w) for w in words) + r")(?![A-Za-z0-9])", re.I
        )
        out[vs_id] = IngredientSet(
            id=vs_id,
            title=_req_str(body, "title", where),
            source=_req_str(body, "source", where),
            ingredients=tuple(ings),
            codes=frozenset(i.code for i in ings if i.code is not None),
            name_pattern=pattern,
        )
    return str(data["version"]), out


def _load_loinc() -> tuple[str, dict[str, frozenset[str]]]:
    name = "loinc.yaml"
    data = _load_yaml(name)
    codes = data.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise TerminologyError(f"{name}: codes: required non-empty mapping")
    out: dict[str, frozenset[str]] = {}
    for key, items in codes.items():
        if not isinstance(items, list) or not items:
            raise TerminologyError(f"{name}: codes.{key}: required non-empty list")
        vals = set()
        for i, item in enumerate(items):
            vals.add(_req_str(item, "code", f"{name}: codes.{key}[{i}]"))
            _req_str(item, "source", f"{name}: codes.{key}[{i}]")
        out[str(key)] = frozenset(vals)
    required = {
        "blood_pressure_panel",
        "systolic",
        "diastolic",
        "body_weight",
        "pregnancy_status",
        "pregnant_answer",
    }
    missing = required - out.keys()
    if missing:
        raise TerminologyError(f"{name}: codes: missing {sorted(missing)}")
    return str(data["version"]), out


@functools.cache
def load_terminology() -> Terminology:
    """Load, validate and cache every packaged value set (raises TerminologyError on a malformed file)."""
    v_icd, icd_sets = _load_icd10cm()
    v_sct, sct_sets = _load_snomed()
    v_rx, rx_sets = _load_rxnorm()
    v_ln, ln_codes = _load_loinc()
    return Terminology(
        versions={"icd10cm": v_icd, "snomed": v_sct, "rxnorm": v_rx, "loinc": v_ln},
        icd10cm=icd_sets,
        snomed=sct_sets,
        rxnorm=rx_sets,
        loinc=ln_codes,
    )
