"""Telehealth jurisdiction rules: decide what a visit may do from its modality and the patient's location, explaining each finding.

The rules are data (`data/rules.yaml`, each with its source). A clinic can only tighten them (`ClinicPolicy`):
no policy setting removes a finding the rules produce. Decision: any `block` finding makes `not_allowed`;
otherwise any `review` makes `needs_review`; `info` findings never change the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, cast

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.telehealth.rules import (
    ACTIVITIES,
    DOSING_ACTIVITIES,
    DRUGS,
    LEVELS,
    MODALITIES,
    MODALITY_LABELS,
    REMOTE_MODALITIES,
    Activity,
    Decision,
    Drug,
    Level,
    Modality,
    Rule,
    RuleSet,
    RuleSetError,
    country_of,
    is_jurisdiction,
    load_rules,
    matches,
    parse_rules,
)

__all__ = [
    "ACTIVITIES",
    "DRUGS",
    "LEVELS",
    "MODALITIES",
    "ClinicPolicy",
    "Finding",
    "RuleSet",
    "RuleSetError",
    "TelehealthResult",
    "Visit",
    "VisitError",
    "decide",
    "evaluate",
    "is_jurisdiction",
    "load_rules",
    "matches",
    "parse_policy",
    "parse_rules",
    "parse_visit",
]


class VisitError(CoreValidationError):
    """A visit or policy given to the engine is malformed; `field` names the offending input."""


@dataclass(frozen=True, slots=True)
class ClinicPolicy:
    """A clinic's tightening of the rules. Every setting can only add findings or raise their level.

    - `in_person_evaluation_within_days`: prescribing or giving a dose needs an in-person evaluation within this
      many days before the course's first dose (the visit's date when no dose has been given yet).
    - `rely_on_flexibilities`: False means the clinic never prescribes under temporary flexibilities.
    - `remote_modalities`: the remote modalities the clinic offers at all.
    - `require_telehealth_consent`: a remote visit without consent on file is blocked, not only flagged.
    """

    in_person_evaluation_within_days: int | None = None
    rely_on_flexibilities: bool = True
    remote_modalities: frozenset[Modality] = frozenset(REMOTE_MODALITIES)
    require_telehealth_consent: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "in_person_evaluation_within_days": self.in_person_evaluation_within_days,
            "rely_on_flexibilities": self.rely_on_flexibilities,
            "remote_modalities": [m for m in REMOTE_MODALITIES if m in self.remote_modalities],
            "require_telehealth_consent": self.require_telehealth_consent,
        }


@dataclass(frozen=True, slots=True)
class Visit:
    """What the engine decides about: one visit, where the patient is at the time, and what is on file."""

    on: date
    modality: Modality
    jurisdiction: str
    activity: Activity
    drug: Drug | None = None
    in_person_evaluations: tuple[date, ...] = ()
    first_dose_on: date | None = None
    clinician_jurisdictions: frozenset[str] | None = None
    records_access: bool | None = None
    telehealth_consent: bool = False

    @property
    def remote(self) -> bool:
        return self.modality != "in_person"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    level: Level
    message: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "message": self.message, "source": self.source}


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule was evaluated: whether it applied to the jurisdiction, whether it fired, and why."""

    code: str
    applied: bool
    fired: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "applied": self.applied, "fired": self.fired, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class TelehealthResult:
    decision: Decision
    findings: tuple[Finding, ...]
    ruleset_version: str
    trace: tuple[RuleTrace, ...]
    policy: ClinicPolicy = field(default_factory=ClinicPolicy)

    def to_contract(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "findings": [f.to_dict() for f in self.findings],
            "ruleset": self.ruleset_version,
        }

    def to_record(self) -> dict[str, Any]:
        """The decision object plus the policy applied and the per-rule trace (for storage)."""
        out = self.to_contract()
        out.update({"policy": self.policy.to_dict(), "trace": [t.to_dict() for t in self.trace]})
        return out


def decide(findings: Sequence[Finding]) -> Decision:
    """block -> not_allowed; else review -> needs_review; info never changes the decision."""
    levels = {f.level for f in findings}
    if "block" in levels:
        return "not_allowed"
    if "review" in levels:
        return "needs_review"
    return "allowed"


# ------------------------------------------------------------------------------------------ input parsing


def _opt_date(data: Mapping[str, Any], key: str) -> date | None:
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or len(v) != 10:
        raise VisitError(key, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise VisitError(key, f"{v!r} is not a date YYYY-MM-DD") from None


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    v = data.get(key)
    if v is not None and not isinstance(v, bool):
        raise VisitError(key, "must be true, false or null")
    return v


def parse_visit(data: object) -> Visit:
    """Build a Visit from JSON-like data; raise VisitError naming the field on bad input."""
    if not isinstance(data, dict):
        raise VisitError("visit", "must be a JSON object")
    on = _opt_date(data, "on")
    if on is None:
        raise VisitError("on", "required date YYYY-MM-DD")
    modality = data.get("modality")
    if modality not in MODALITIES:
        raise VisitError("modality", f"must be one of {', '.join(MODALITIES)}")
    jurisdiction = data.get("jurisdiction")
    if not isinstance(jurisdiction, str) or not is_jurisdiction(jurisdiction):
        raise VisitError("jurisdiction", "must be a US state (US-CA), UK, or an Australian state (AU-NSW)")
    activity = data.get("activity")
    if activity not in ACTIVITIES:
        raise VisitError("activity", f"must be one of {', '.join(ACTIVITIES)}")
    drug = data.get("drug")
    if drug is not None and drug not in DRUGS:
        raise VisitError("drug", f"must be one of {', '.join(DRUGS)} or null")
    raw_evals = data.get("in_person_evaluations", [])
    if not isinstance(raw_evals, list):
        raise VisitError("in_person_evaluations", "must be a list of dates YYYY-MM-DD")
    evals = []
    for i, v in enumerate(raw_evals):
        d = _opt_date({f"in_person_evaluations[{i}]": v}, f"in_person_evaluations[{i}]")
        if d is None:
            raise VisitError(f"in_person_evaluations[{i}]", "must be a date YYYY-MM-DD")
        evals.append(d)
    raw_lic = data.get("clinician_jurisdictions")
    lic: frozenset[str] | None = None
    if raw_lic is not None:
        if not isinstance(raw_lic, list) or any(
            not isinstance(j, str) or not is_jurisdiction(j) for j in raw_lic
        ):
            raise VisitError(
                "clinician_jurisdictions", "must be a list of jurisdictions (US-CA, UK, AU-NSW) or null"
            )
        lic = frozenset(raw_lic)
    consent = _opt_bool(data, "telehealth_consent")
    return Visit(
        on=on,
        modality=modality,
        jurisdiction=jurisdiction,
        activity=activity,
        drug=drug,
        in_person_evaluations=tuple(sorted(evals)),
        first_dose_on=_opt_date(data, "first_dose_on"),
        clinician_jurisdictions=lic,
        records_access=_opt_bool(data, "records_access"),
        telehealth_consent=bool(consent),
    )


def parse_policy(data: object) -> ClinicPolicy:
    """Build a ClinicPolicy from JSON-like data (missing keys keep the defaults); raise VisitError naming the field."""
    if data is None:
        return ClinicPolicy()
    if not isinstance(data, dict):
        raise VisitError("policy", "must be a JSON object")
    unknown = sorted(set(data) - set(ClinicPolicy().to_dict()))
    if unknown:
        raise VisitError(f"policy.{unknown[0]}", "is not a policy setting")
    policy = ClinicPolicy()
    days = data.get("in_person_evaluation_within_days")
    if days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise VisitError(
                "policy.in_person_evaluation_within_days", "must be a whole number of days, 1 to 3650"
            )
        policy = replace(policy, in_person_evaluation_within_days=days)
    for key in ("rely_on_flexibilities", "require_telehealth_consent"):
        if key in data:
            if not isinstance(data[key], bool):
                raise VisitError(f"policy.{key}", "must be true or false")
            policy = replace(policy, **{key: data[key]})
    if "remote_modalities" in data:
        mods = data["remote_modalities"]
        if not isinstance(mods, list) or any(m not in REMOTE_MODALITIES for m in mods):
            raise VisitError("policy.remote_modalities", f"must be a list of {', '.join(REMOTE_MODALITIES)}")
        policy = replace(policy, remote_modalities=frozenset(mods))
    return policy


# ------------------------------------------------------------------------------------------ evaluation


_CLINIC_SOURCE = "Clinic policy (a tightening the clinic chose; it never loosens the jurisdiction rules)"


def _rule_fires(rule: Rule, visit: Visit, policy: ClinicPolicy) -> tuple[Finding | None, str]:
    """The finding a rule that applies to the visit's jurisdiction produces (or None), and why."""
    mode = MODALITY_LABELS[visit.modality]
    if rule.kind != "licensure" and rule.activities and visit.activity not in rule.activities:
        return None, f"activity {visit.activity} is not one this rule covers"
    if rule.drugs and visit.drug not in rule.drugs:
        return None, f"drug {visit.drug or 'none'} is not one this rule covers"
    if not visit.remote:
        return None, "in-person visit"
    own = Finding(rule.code, rule.level, rule.message, rule.source)
    if rule.kind in ("in_person_only", "notice"):
        return own, f"{mode} visit for {visit.activity}"
    if rule.kind == "modality_notice":
        if visit.modality in rule.modalities:
            return own, f"{mode} visit"
        return None, f"{mode} visit is not one this rule covers"
    if rule.kind == "in_person_evaluation":
        done = [d for d in visit.in_person_evaluations if d <= visit.on]
        if done:
            return None, f"in-person evaluation on file ({done[-1].isoformat()})"
        flex = rule.flexibility
        if flex is not None and flex.covers(visit.on, visit.modality):
            if not policy.rely_on_flexibilities:
                return (
                    own,
                    f"no in-person evaluation; {flex.code} would cover it but the clinic does not rely on it",
                )
            return Finding(
                flex.code, "info", flex.message, flex.source
            ), f"no in-person evaluation; covered by {flex.code}"
        why = "no in-person evaluation on or before the visit"
        if flex is not None:
            why += (
                f"; {flex.code} covers {', '.join(flex.modalities)} visits {flex.start} to {flex.until} only"
            )
        return own, why
    if rule.kind == "licensure":
        lic = visit.clinician_jurisdictions
        if lic is None or not lic:
            level = cast(Level, rule.unknown_level)
            return (
                Finding(
                    f"{rule.code}_unconfirmed",
                    level,
                    f"Not confirmed: {rule.message[0].lower()}{rule.message[1:]}",
                    rule.source,
                ),
                "clinician's licences not on file",
            )
        if rule.scope == "state":
            ok = visit.jurisdiction in lic
        else:
            ok = any(country_of(j) == country_of(visit.jurisdiction) for j in lic)
        if ok:
            return None, f"clinician licensed for {visit.jurisdiction}"
        return own, f"clinician licensed in {', '.join(sorted(lic))}, not {visit.jurisdiction}"
    if rule.kind == "records_access":
        if visit.records_access is True:
            return None, "prescriber has access to the medical records"
        if visit.records_access is None:
            level = cast(Level, rule.unknown_level)
            return (
                Finding(
                    f"{rule.code}_unconfirmed",
                    level,
                    f"Not confirmed: {rule.message[0].lower()}{rule.message[1:]}",
                    rule.source,
                ),
                "records access not stated",
            )
        return own, "prescriber has no access to the medical records"
    if rule.kind == "consent":
        if visit.telehealth_consent:
            return None, "consent to telehealth on file"
        if policy.require_telehealth_consent:
            return replace(
                own, level="block", source=f"{rule.source}; {_CLINIC_SOURCE}: consent required"
            ), "no consent; the clinic requires it"
        return own, "no consent to telehealth on file"
    raise AssertionError(rule.kind)  # pragma: no cover - kinds are validated on load


def _policy_findings(visit: Visit, policy: ClinicPolicy) -> list[tuple[str, Finding | None, str]]:
    out: list[tuple[str, Finding | None, str]] = []
    if visit.remote:
        code = "clinic_modality_not_offered"
        if visit.modality not in policy.remote_modalities:
            f = Finding(
                code,
                "block",
                f"This clinic does not offer {MODALITY_LABELS[visit.modality]} visits",
                _CLINIC_SOURCE,
            )
            out.append((code, f, f"{visit.modality} not in the clinic's remote modalities"))
        else:
            out.append((code, None, f"{visit.modality} offered"))
    days = policy.in_person_evaluation_within_days
    if days is not None and visit.activity in DOSING_ACTIVITIES:
        code = "clinic_in_person_evaluation_window"
        ref = visit.first_dose_on or visit.on
        window = [d for d in visit.in_person_evaluations if ref - timedelta(days=days) <= d <= ref]
        if window:
            out.append(
                (
                    code,
                    None,
                    f"in-person evaluation {window[-1].isoformat()} within {days} days before {ref.isoformat()}",
                )
            )
        else:
            f = Finding(
                code,
                "block",
                f"An in-person evaluation within {days} days before the first dose ({ref.isoformat()}) is required",
                f"{_CLINIC_SOURCE}: in-person evaluation within {days} days before the first dose",
            )
            out.append(
                (
                    code,
                    f,
                    f"no in-person evaluation from {(ref - timedelta(days=days)).isoformat()} to {ref.isoformat()}",
                )
            )
    return out


def evaluate(
    visit: Visit, ruleset: RuleSet | None = None, *, policy: ClinicPolicy | None = None
) -> TelehealthResult:
    """Decide what `visit` may do: every rule for its jurisdiction in file order, then the clinic's tightenings."""
    rs = ruleset or load_rules()
    pol = policy or ClinicPolicy()
    if not is_jurisdiction(visit.jurisdiction):
        raise VisitError("jurisdiction", f"{visit.jurisdiction!r} is not a known jurisdiction")
    findings: list[Finding] = []
    trace: list[RuleTrace] = []
    for rule in rs.rules:
        if not rule.applies_to(visit.jurisdiction):
            trace.append(RuleTrace(rule.code, False, False, f"does not apply in {visit.jurisdiction}"))
            continue
        finding, detail = _rule_fires(rule, visit, pol)
        trace.append(RuleTrace(rule.code, True, finding is not None, detail))
        if finding is not None:
            findings.append(finding)
    for code, finding, detail in _policy_findings(visit, pol):
        trace.append(RuleTrace(code, True, finding is not None, detail))
        if finding is not None:
            findings.append(finding)
    return TelehealthResult(
        decision=decide(findings),
        findings=tuple(findings),
        ruleset_version=rs.version,
        trace=tuple(trace),
        policy=pol,
    )
