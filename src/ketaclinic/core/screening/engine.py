"""Eligibility screening engine: evaluate an intake against a versioned, data-driven rule set, explaining every finding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from ketaclinic.core.fhir.intake import (
    AllergyFact,
    BloodPressureReading,
    ConditionFact,
    Intake,
    MedicationFact,
    PartialDate,
    ProblemKind,
    parse_bundle,
)
from ketaclinic.core.screening.ruleset import (
    CONDITION_STATUSES,
    KINDS,
    LEVELS,
    ROUTES,
    Level,
    Route,
    Rule,
    RuleSet,
    RuleSetError,
    load_ruleset,
    parse_ruleset,
)
from ketaclinic.core.terminology import RXNORM, SNOMED, Terminology, load_terminology

__all__ = [
    "CONDITION_STATUSES",
    "KINDS",
    "LEVELS",
    "ROUTES",
    "Decision",
    "Finding",
    "Level",
    "Route",
    "Rule",
    "RuleSet",
    "RuleSetError",
    "RuleTrace",
    "ScreeningResult",
    "decide",
    "load_ruleset",
    "parse_ruleset",
    "screen",
    "screen_bundle",
]

Decision = Literal["eligible", "needs_review", "ineligible"]
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
NOT_ACTIVE_CLINICAL = frozenset({"inactive", "remission", "resolved"})
#: MedicationStatement.status values taken to mean the patient is (or will be) taking it.
ACTIVE_MEDICATION = frozenset({"active", "intended", "on-hold", "unknown"})
ENDED_MEDICATION = frozenset({"completed", "stopped"})


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    level: Level
    message: str
    evidence: tuple[str, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level,
            "message": self.message,
            "evidence": list(self.evidence),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule was evaluated: whether it fired, which resources it looked at, and why."""

    code: str
    level: Level
    fired: bool
    considered: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level,
            "fired": self.fired,
            "considered": list(self.considered),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    decision: Decision
    findings: tuple[Finding, ...]
    ruleset_version: str
    on: date
    route: Route
    trace: tuple[RuleTrace, ...]

    def to_contract(self) -> dict[str, Any]:
        """The exact docs/cli.md output object."""
        return {
            "decision": self.decision,
            "findings": [f.to_dict() for f in self.findings],
            "ruleset": self.ruleset_version,
        }

    def to_record(self) -> dict[str, Any]:
        """The contract object plus the screening date, route and full trace (for storage)."""
        out = self.to_contract()
        out.update(
            {"on": self.on.isoformat(), "route": self.route, "trace": [t.to_dict() for t in self.trace]}
        )
        return out


def decide(findings: Sequence[Finding]) -> Decision:
    """absolute -> ineligible; else relative -> needs_review; caution never changes the decision."""
    levels = {f.level for f in findings}
    if "absolute" in levels:
        return "ineligible"
    if "relative" in levels:
        return "needs_review"
    return "eligible"


# ------------------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True, slots=True)
class _Outcome:
    fired: bool
    evidence: tuple[str, ...]
    message: str
    considered: tuple[str, ...]
    detail: str


def _dedup(refs: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(refs))


class _Evaluator:
    def __init__(self, intake: Intake, on: date, route: Route, terms: Terminology) -> None:
        self.intake, self.on, self.route, self.terms = intake, on, route, terms
        self.fired: set[str] = set()

    # ---- value-set membership
    def _condition_match(self, c: ConditionFact, refs: Sequence[str]) -> str | None:
        for ref in refs:
            alias, _, vs = ref.partition(":")
            if alias == "icd10cm":
                for code in c.icd10cm:
                    m = self.terms.icd10cm_match(vs, code)
                    if m:
                        title = "" if m.root == code else f" (subtree {m.root})"
                        return f"ICD-10-CM {code}{title}"
            elif alias == "snomed":
                for code in c.snomed:
                    if self.terms.snomed_match(vs, code):
                        return f"SNOMED CT {code}"
        return None

    def _substance_match(
        self, codes: Sequence[tuple[str, str]], names: Sequence[str], refs: Sequence[str]
    ) -> str | None:
        for ref in refs:
            alias, _, vs = ref.partition(":")
            if alias == "rxnorm":
                for system, code in codes:
                    if system == RXNORM:
                        ing = self.terms.rxnorm[vs].match_code(code)
                        if ing:
                            return f"RxNorm {code} ({ing.name})"
            elif alias == "snomed":
                for system, code in codes:
                    if system == SNOMED and self.terms.snomed_match(vs, code):
                        return f"SNOMED CT {code}"
        for ref in refs:  # failing a code, the ingredient name
            alias, _, vs = ref.partition(":")
            if alias == "rxnorm":
                for text in names:
                    ing = self.terms.rxnorm[vs].match_name(text)
                    if ing:
                        return f"name {text!r} ({ing.name})"
        return None

    # ---- status and dates
    def _present(self, c: ConditionFact) -> bool:
        """Recorded as existing on the screening date (an onset certainly after it does not count)."""
        return c.onset is None or c.onset.earliest <= self.on

    def _active(self, c: ConditionFact) -> bool:
        if not self._present(c):
            return False
        abated_by_on = c.abatement is not None and c.abatement.latest <= self.on
        if c.clinical_status in NOT_ACTIVE_CLINICAL:
            # resolved later than the screening date: it was still active then
            return c.abatement is not None and c.abatement.earliest > self.on
        if c.clinical_status is None or c.clinical_status in ACTIVE_CLINICAL:
            if abated_by_on:
                return False
            return not (c.abated and c.abatement is None)
        return True  # an unrecognised clinicalStatus code is treated as active (safer)

    def _in_window(self, when: PartialDate, days: int) -> bool:
        return self.on - timedelta(days=days) <= when.earliest and when.latest <= self.on

    # ---- kinds
    def _condition_hits(self, rule: Rule) -> tuple[list[tuple[str, str]], list[str]]:
        """(reference, explanation) of each condition meeting `rule`, and every condition that matched its codes."""
        hits: list[tuple[str, str]] = []
        considered: list[str] = []
        for c in self.intake.conditions:
            match = self._condition_match(c, rule.value_sets)
            if match is None and c.text and any(p.search(c.text) for p in rule.text_patterns):
                match = f"text {c.text!r}"
            if match is None:
                continue
            considered.append(c.ref)
            remission_code = self._condition_match(c, rule.remission_value_sets) is not None
            if rule.status == "any":
                ok = self._present(c)
            elif rule.status == "active":
                ok = self._active(c)
            elif rule.status == "active_not_remission":
                ok = self._active(c) and not remission_code and c.clinical_status != "remission"
            else:  # remission
                ok = self._present(c) and (remission_code or c.clinical_status in NOT_ACTIVE_CLINICAL)
            if ok:
                status = c.clinical_status or "no clinicalStatus"
                hits.append((c.ref, f"{c.ref} {match}, {status}"))
        return hits, considered

    def condition(self, rule: Rule) -> _Outcome:
        hits, considered = self._condition_hits(rule)
        if not hits:
            why = (
                "no matching condition"
                if not considered
                else f"matching conditions not in status '{rule.status}'"
            )
            return _Outcome(False, (), "", tuple(considered), why)
        msg = f"{rule.message}: " + "; ".join(h[1] for h in hits)
        return _Outcome(True, _dedup([h[0] for h in hits]), msg, tuple(considered), msg)

    def allergy(self, rule: Rule) -> _Outcome:
        hits: list[tuple[str, str]] = []
        considered: list[str] = []
        for a in self.intake.allergies:
            match = self._substance_match(a.codes, a.names, rule.value_sets)
            if match is None:
                continue
            considered.append(a.ref)
            if _allergy_counts(a):
                hits.append((a.ref, f"{a.ref} {match}, {a.clinical_status or 'no clinicalStatus'}"))
        if not hits:
            return _Outcome(False, (), "", tuple(considered), "no active matching allergy")
        msg = f"{rule.message}: " + "; ".join(h[1] for h in hits)
        return _Outcome(True, _dedup([h[0] for h in hits]), msg, tuple(considered), msg)

    def _medication_active(self, m: MedicationFact, washout: int) -> bool:
        if m.start is not None and m.start.earliest > self.on:
            return False
        horizon = self.on - timedelta(days=washout)
        if m.status in ACTIVE_MEDICATION:
            return m.end is None or m.end.latest >= horizon
        if m.status in ENDED_MEDICATION:
            return m.end is not None and m.end.latest >= horizon and (washout > 0 or m.end.latest >= self.on)
        return False  # not-taken

    def medication(self, rule: Rule) -> _Outcome:
        washout = int(rule.params["washout_days"])
        hits: list[tuple[str, str]] = []
        considered: list[str] = []
        for m in self.intake.medications:
            codes = [(RXNORM, c) for c in m.rxnorm]
            match = self._substance_match(codes, m.names, rule.value_sets)
            if match is None:
                continue
            considered.append(m.ref)
            if self._medication_active(m, washout):
                end = f", ended {m.end.text}" if m.end is not None else ""
                hits.append((m.ref, f"{m.ref} {match}, status {m.status}{end}"))
        extra = rule.also_conditions
        if extra is not None:
            more, seen = self._condition_hits(extra)
            hits += more
            considered += seen
        if not hits:
            what = "medication" if extra is None else "medication or condition"
            return _Outcome(False, (), "", tuple(considered), f"no active matching {what}")
        msg = f"{rule.message}: " + "; ".join(h[1] for h in hits)
        return _Outcome(True, _dedup([h[0] for h in hits]), msg, tuple(_dedup(considered)), msg)

    def _latest_bp(self, days: int) -> BloodPressureReading | None:
        recent = [b for b in self.intake.blood_pressures if self._in_window(b.when, days)]
        return max(recent, key=lambda b: b.when.instant) if recent else None

    def bp_threshold(self, rule: Rule) -> _Outcome:
        p = rule.params
        if p.get("unless") in self.fired:
            return _Outcome(False, (), "", (), f"not evaluated: {p['unless']} already reported")
        bp = self._latest_bp(int(p["window_days"]))
        if bp is None:
            return _Outcome(False, (), "", (), f"no blood pressure within {p['window_days']} days")
        s_lim, d_lim = p["systolic_at_least"], p["diastolic_at_least"]
        reading = _bp_text(bp)
        hit = (bp.systolic is not None and bp.systolic >= s_lim) or (
            bp.diastolic is not None and bp.diastolic >= d_lim
        )
        detail = f"latest {reading} on {bp.when.text} ({', '.join(bp.refs)}); threshold {s_lim}/{d_lim}"
        if not hit:
            return _Outcome(False, (), "", bp.refs, detail)
        msg = (
            f"{rule.message}: {reading} on {bp.when.text}, at or above {s_lim} systolic or {d_lim} diastolic"
        )
        return _Outcome(True, bp.refs, msg, bp.refs, detail)

    def _unusable(self, kind: str) -> list[str]:
        return [p.ref for p in self.intake.problems if p.kind == kind]

    def bp_missing(self, rule: Rule) -> _Outcome:
        days = int(rule.params["window_days"])
        bp = self._latest_bp(days)
        if bp is not None:
            return _Outcome(
                False, (), "", bp.refs, f"latest blood pressure {bp.when.text} within {days} days"
            )
        stale = [r for b in self.intake.blood_pressures for r in b.refs]
        notes = [str(p) for p in self.intake.problems if p.kind == ProblemKind.BLOOD_PRESSURE]
        notes += [
            f"{', '.join(b.refs)} on {b.when.text} is outside the window" for b in self.intake.blood_pressures
        ]
        msg = f"No usable blood pressure within {days} days before {self.on.isoformat()}"
        if notes:
            msg += " (" + "; ".join(notes) + ")"
        ev = _dedup(self._unusable(ProblemKind.BLOOD_PRESSURE) + stale)
        return _Outcome(True, ev, msg, ev, msg)

    def weight_missing(self, rule: Rule) -> _Outcome:
        days, routes = int(rule.params["window_days"]), rule.params["routes"]
        if self.route not in routes:
            return _Outcome(False, (), "", (), f"route {self.route} does not need a weight")
        recent = [w for w in self.intake.weights if self._in_window(w.when, days)]
        if recent:
            w = max(recent, key=lambda x: x.when.instant)
            return _Outcome(False, (), "", (w.ref,), f"weight {w.kg:g} kg on {w.when.text} ({w.ref})")
        notes = [str(p) for p in self.intake.problems if p.kind == ProblemKind.WEIGHT]
        notes += [f"{w.ref} on {w.when.text} is outside the window" for w in self.intake.weights]
        msg = f"No usable body weight within {days} days before {self.on.isoformat()} (route {self.route})"
        if notes:
            msg += " (" + "; ".join(notes) + ")"
        ev = _dedup(self._unusable(ProblemKind.WEIGHT) + [w.ref for w in self.intake.weights])
        return _Outcome(True, ev, msg, ev, msg)

    def pregnancy(self, rule: Rule) -> _Outcome:
        cond = self.condition(
            Rule(rule.code, rule.level, "condition", rule.message, rule.source, "active", rule.value_sets)
        )
        days = int(rule.params["status_window_days"])
        statuses = [s for s in self.intake.pregnancy_statuses if self._in_window(s.when, days)]
        latest = max(statuses, key=lambda s: s.when.instant) if statuses else None
        considered = list(cond.considered) + ([latest.ref] if latest else [])
        parts = [cond.message.split(": ", 1)[1]] if cond.fired else []
        ev = list(cond.evidence)
        if latest is not None and latest.pregnant:
            parts.append(f"{latest.ref} pregnancy status 'pregnant' on {latest.when.text}")
            ev.append(latest.ref)
        if not parts:
            return _Outcome(False, (), "", tuple(considered), "no active pregnancy recorded")
        msg = f"{rule.message}: " + "; ".join(parts)
        return _Outcome(True, _dedup(ev), msg, tuple(considered), msg)

    def age_under(self, rule: Rule) -> _Outcome:
        years = int(rule.params["years"])
        bd = self.intake.patient.birth_date
        if bd is None:
            return _Outcome(False, (), "", (), "no birth date (see birth_date_missing)")
        youngest = bd.latest  # a partial birth date is read as the latest day it can mean (the safer side)
        age = self.on.year - youngest.year - ((self.on.month, self.on.day) < (youngest.month, youngest.day))
        ref = self.intake.patient.ref
        detail = f"age {age} on {self.on.isoformat()} (birthDate {bd.text})"
        if age >= years:
            return _Outcome(False, (), "", (ref,), detail)
        return _Outcome(True, (ref,), f"{rule.message}: {detail}", (ref,), detail)

    def unreadable(self, rule: Rule) -> _Outcome:
        probs = [p for p in self.intake.problems if p.kind in (ProblemKind.CODE, ProblemKind.PREGNANCY)]
        if not probs:
            return _Outcome(False, (), "", (), "every condition, allergy and medication was readable")
        msg = f"{rule.message}: " + "; ".join(str(p) for p in probs)
        ev = _dedup([p.ref for p in probs])
        return _Outcome(True, ev, msg, ev, msg)

    def birth_date_missing(self, rule: Rule) -> _Outcome:
        probs = [p for p in self.intake.problems if p.kind == ProblemKind.BIRTH_DATE]
        if not probs:
            return _Outcome(False, (), "", (self.intake.patient.ref,), "birth date present")
        msg = f"{rule.message} ({'; '.join(str(p) for p in probs)})"
        return _Outcome(True, (self.intake.patient.ref,), msg, (self.intake.patient.ref,), msg)


def _allergy_counts(a: AllergyFact) -> bool:
    return a.clinical_status is None or a.clinical_status == "active"


def _bp_text(bp: BloodPressureReading) -> str:
    s = f"{bp.systolic:g}" if bp.systolic is not None else "?"
    d = f"{bp.diastolic:g}" if bp.diastolic is not None else "?"
    return f"{s}/{d} mm[Hg]"


def screen(
    intake: Intake, *, on: date, route: Route = "iv", ruleset: RuleSet | None = None
) -> ScreeningResult:
    """Evaluate `intake` on the screening date `on` for `route` against `ruleset` (default: the packaged one)."""
    if route not in ROUTES:
        raise ValueError(f"route: {route!r} is not one of {', '.join(ROUTES)}")
    rs = ruleset or load_ruleset()
    ev = _Evaluator(intake, on, route, load_terminology())
    findings: list[Finding] = []
    trace: list[RuleTrace] = []
    for rule in rs.rules:
        handler: Callable[[Rule], _Outcome] = getattr(ev, rule.kind)
        out = handler(rule)
        trace.append(RuleTrace(rule.code, rule.level, out.fired, out.considered, out.detail))
        if out.fired:
            ev.fired.add(rule.code)
            findings.append(Finding(rule.code, rule.level, out.message, out.evidence, rule.source))
    return ScreeningResult(decide(findings), tuple(findings), rs.version, on, route, tuple(trace))


def screen_bundle(
    bundle: object, *, on: date, route: Route = "iv", ruleset: RuleSet | None = None
) -> ScreeningResult:
    """Parse a FHIR R4 intake Bundle and screen it. Raises ketaclinic.core.fhir.intake.BundleError when malformed."""
    return screen(parse_bundle(bundle), on=on, route=route, ruleset=ruleset)
