"""Score an instrument: validate answers item by item, then total, severity band, flags and risk level."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.instruments.definitions import Condition, Instrument, Item

Answer = int | None
_INT_RE = re.compile(r"[+-]?[0-9]+")


class AnswerError(CoreValidationError):
    """Bad input. `field` names the offending item (e.g. "item 9", "item 6b") or "answers"."""

    def __init__(self, field: str, reason: str, *, item: int | None = None) -> None:
        super().__init__(field, reason)
        self.item = item


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    message: str
    source: str
    suicide_risk: bool


@dataclass(frozen=True, slots=True)
class PartScore:
    """A subscale or domain value; None when one of its items is unanswered."""

    code: str
    value: int | None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The scored form. `total`/`severity` are None for an incomplete form (never scored as complete)."""

    instrument_id: str
    version: str
    answers: tuple[Answer, ...]
    complete: bool
    missing_items: tuple[str, ...]
    not_asked_items: tuple[str, ...]
    #: An int for summed instruments; for a `mean` instrument (PEG) a float rounded to its decimals.
    total: float | None
    severity: str | None
    severity_label: str | None
    flags: tuple[Flag, ...]
    subscales: tuple[PartScore, ...]
    domains: tuple[PartScore, ...]
    risk_floor: str | None
    suicide_risk: bool
    #: Why `suicide_risk` is true, in words (empty when it is false).
    suicide_risk_reasons: tuple[str, ...] = ()

    @property
    def flag_codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.flags)

    @property
    def answered_count(self) -> int:
        return sum(1 for a in self.answers if a is not None)


def evaluate(cond: Condition, answers: Sequence[Answer]) -> bool:
    """Evaluate a condition; a leaf on an unanswered item is False (unknown is never treated as met)."""
    if cond.item is not None:
        v = answers[cond.item - 1]
        if v is None or cond.value is None:
            return False
        match cond.op:
            case "eq":
                return v == cond.value
            case "ne":
                return v != cond.value
            case "gt":
                return v > cond.value
            case "ge":
                return v >= cond.value
            case "lt":
                return v < cond.value
            case "le":
                return v <= cond.value
            case _:
                return False
    if cond.any_of:
        return any(evaluate(c, answers) for c in cond.any_of)
    return all(evaluate(c, answers) for c in cond.all_of)


def _field(item: Item) -> str:
    return f"item {item.code}"


def validate_answers(defn: Instrument, answers: Sequence[object]) -> tuple[Answer, ...]:
    """Check count, type, range and skip logic; return the answers as a tuple or raise AnswerError."""
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise AnswerError("answers", "must be a list of item values")
    if len(answers) != len(defn.items):
        raise AnswerError(
            "answers",
            f"{defn.short_title} has {len(defn.items)} items in canonical order; got {len(answers)} answers",
        )
    out: list[Answer] = []
    for item, raw in zip(defn.items, answers, strict=True):
        if raw is None:
            out.append(None)
            continue
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise AnswerError(_field(item), f"{raw!r} is not an integer", item=item.n)
        if raw not in item.allowed_values:
            raise AnswerError(
                _field(item),
                f"{raw} is out of range; allowed {item.min_value}-{item.max_value}",
                item=item.n,
            )
        out.append(raw)
    for item in defn.items:
        if item.asked_if is None:
            continue
        v = out[item.n - 1]
        if item.skip_strict and v is not None and v != 0 and not evaluate(item.asked_if, out):
            raise AnswerError(
                _field(item),
                f"answered {v} but is asked only if {_describe(defn, item.asked_if)} (skip logic)",
                item=item.n,
            )
    return tuple(out)


def _describe(defn: Instrument, cond: Condition) -> str:
    if cond.item is not None:
        code = defn.item(cond.item).code
        sym = {"eq": "=", "ne": "≠", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[cond.op or "eq"]
        return f"item {code} {sym} {cond.value}"
    joiner, parts = (" or ", cond.any_of) if cond.any_of else (" and ", cond.all_of)
    return "(" + joiner.join(_describe(defn, c) for c in parts) + ")"


def _is_asked(item: Item, answers: Sequence[Answer]) -> bool:
    return item.asked_if is None or evaluate(item.asked_if, answers)


def _combine(values: Sequence[Answer], how: str) -> int | None:
    if any(v is None for v in values):
        return None
    ints = [v for v in values if v is not None]
    return max(ints) if how == "max" else sum(ints)


def score(defn: Instrument, answers: Sequence[object]) -> ScoreResult:
    """Score `answers` (item values in canonical order; None = unanswered) against `defn`.

    Raises AnswerError naming the item on a wrong count, a non-integer, an out-of-range value or a
    skip-logic violation. An item not asked because of skip logic may be None (or 0) without making
    the form incomplete. Flags and the risk floor are evaluated on the answered items even when the
    form is incomplete, so a positive safety item is never hidden by a missing answer.
    """
    vals = validate_answers(defn, answers)
    missing: list[str] = []
    not_asked: list[str] = []
    for item in defn.items:
        asked = _is_asked(item, vals)
        if not asked:
            not_asked.append(item.code)
        elif vals[item.n - 1] is None:
            missing.append(item.code)
    complete = not missing
    # Items not asked count as 0 for scoring.
    eff: list[Answer] = [
        (0 if v is None and item.code in not_asked else v) for item, v in zip(defn.items, vals, strict=True)
    ]
    domains = tuple(
        PartScore(d.code, _combine([eff[n - 1] for n in d.items], d.combine)) for d in defn.domains
    )
    subscales = tuple(
        PartScore(s.code, _combine([eff[n - 1] for n in s.items], "sum")) for s in defn.subscales
    )
    total: float | None = None
    severity: str | None = None
    severity_label: str | None = None
    if complete and defn.has_total:
        if defn.scoring_method == "domains":
            total = sum(d.value for d in domains if d.value is not None)
        elif defn.scoring_method == "mean":
            total = defn.mean_total([v for v in eff if v is not None])
        else:
            total = sum(v for v in eff if v is not None)
        band = defn.band_for(total)
        if band is not None:
            severity, severity_label = band.code, band.label
    risk_floor: str | None = None
    if defn.risk_levels:
        risk_floor = defn.risk_default
        for level in defn.risk_levels:  # listed most severe first
            if evaluate(level.when, vals):
                risk_floor = level.code
                break
        if complete:
            severity = risk_floor
            severity_label = next((r.label for r in defn.risk_levels if r.code == risk_floor), "No risk")
    flags = tuple(
        Flag(f.code, f.message, f.source, f.suicide_risk) for f in defn.flags if evaluate(f.when, vals)
    )
    reasons = [f"{defn.short_title}: {f.message} ({f.source})" for f in flags if f.suicide_risk]
    reasons += [
        f"{defn.short_title}: {r.message} ({r.source})"
        for r in defn.suicide_risk_rules
        if evaluate(r.when, vals)
    ]
    if risk_floor is not None and risk_floor in defn.suicide_risk_levels:
        label = next((r.label for r in defn.risk_levels if r.code == risk_floor), risk_floor)
        reasons.append(f"{defn.short_title} triage: {label}")
    suicide_risk = bool(reasons)
    return ScoreResult(
        instrument_id=defn.id,
        version=defn.version,
        answers=vals,
        complete=complete,
        missing_items=tuple(missing),
        not_asked_items=tuple(not_asked),
        total=total,
        severity=severity,
        severity_label=severity_label,
        flags=flags,
        subscales=subscales,
        domains=domains,
        risk_floor=risk_floor,
        suicide_risk=suicide_risk,
        suicide_risk_reasons=tuple(reasons),
    )


def parse_answer_text(defn: Instrument, text: str, *, allow_blank: bool = False) -> list[Answer]:
    """Parse "A1,A2,..." into values; a blank entry is None only when `allow_blank`, else AnswerError."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) != len(defn.items):
        raise AnswerError(
            "answers",
            f"{defn.short_title} has {len(defn.items)} items in canonical order; got {len(parts)} answers",
        )
    out: list[Answer] = []
    for item, p in zip(defn.items, parts, strict=True):
        if p == "":
            if not allow_blank:
                raise AnswerError(_field(item), "missing answer", item=item.n)
            out.append(None)
            continue
        if not _INT_RE.fullmatch(p):
            raise AnswerError(_field(item), f"{p!r} is not an integer", item=item.n)
        out.append(int(p))
    return out
