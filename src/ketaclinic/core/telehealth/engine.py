"""Telehealth jurisdiction rules: decide what a visit may do from its modality and the patient's location, explaining each finding.

The rules are data (`data/rules.yaml`, each with its source). A clinic can only tighten them (`ClinicPolicy`):
no policy setting removes a finding the rules produce. Decision: any `block` finding makes `not_allowed`;
otherwise any `review` makes `needs_review`; `info` findings never change the decision.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from importlib import resources
from typing import Any, Literal, cast

import yaml

Level = Literal["block", "review", "info"]
Decision = Literal["allowed", "needs_review", "not_allowed"]
Modality = Literal["in_person", "video", "telephone"]
Activity = Literal["evaluation", "prescribe", "administer", "follow_up", "therapy"]
Drug = Literal["ketamine", "esketamine"]

LEVELS: tuple[Level, ...] = ("block", "review", "info")
MODALITIES: tuple[Modality, ...] = ("in_person", "video", "telephone")
REMOTE_MODALITIES: tuple[Modality, ...] = ("video", "telephone")
ACTIVITIES: tuple[Activity, ...] = ("evaluation", "prescribe", "administer", "follow_up", "therapy")
DRUGS: tuple[Drug, ...] = ("ketamine", "esketamine")
KINDS = frozenset(
    {
        "in_person_only",
        "in_person_evaluation",
        "licensure",
        "records_access",
        "consent",
        "modality_notice",
        "notice",
    }
)
#: Activities a clinic's "in-person evaluation before the first dose" window applies to.
DOSING_ACTIVITIES: frozenset[Activity] = frozenset({"prescribe", "administer"})

_AU_STATES = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT")
_JURISDICTION = re.compile(r"^(US-[A-Z]{2}|UK|AU-(" + "|".join(_AU_STATES) + r"))$")
_PATTERN = re.compile(r"^(US-\*|AU-\*|US-[A-Z]{2}|UK|AU-(" + "|".join(_AU_STATES) + r"))$")

MODALITY_LABELS: dict[Modality, str] = {"in_person": "in person", "video": "video", "telephone": "telephone"}


class RuleSetError(ValueError):
    """The telehealth rule data is malformed (names the rule and field)."""


class VisitError(ValueError):
    """A visit or policy given to the engine is malformed; `field` names the offending input."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def is_jurisdiction(code: str) -> bool:
    """A US state ("US-CA"), "UK", or an Australian state or territory ("AU-NSW")."""
    return bool(_JURISDICTION.match(code))


def country_of(jurisdiction: str) -> str:
    """ "US", "UK" or "AU"."""
    return jurisdiction.split("-", 1)[0]


def matches(pattern: str, jurisdiction: str) -> bool:
    """Whether `jurisdiction` is within `pattern` ("US-*" is every US state)."""
    if pattern.endswith("-*"):
        return country_of(jurisdiction) == pattern[:-2]
    return pattern == jurisdiction


@dataclass(frozen=True, slots=True)
class Flexibility:
    """A dated exception to an in-person-evaluation rule (e.g. the DEA telemedicine flexibilities)."""

    code: str
    message: str
    source: str
    start: date
    until: date
    modalities: tuple[Modality, ...]

    def covers(self, on: date, modality: Modality) -> bool:
        return self.start <= on <= self.until and modality in self.modalities


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    level: Level
    kind: str
    jurisdictions: tuple[str, ...]
    message: str
    source: str
    activities: tuple[Activity, ...] = ()
    drugs: tuple[Drug, ...] = ()
    modalities: tuple[Modality, ...] = ()
    scope: str = ""
    unknown_level: Level | None = None
    flexibility: Flexibility | None = None

    def applies_to(self, jurisdiction: str) -> bool:
        return any(matches(p, jurisdiction) for p in self.jurisdictions)


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]

    def rule(self, code: str) -> Rule:
        for r in self.rules:
            if r.code == code:
                return r
        raise KeyError(code)


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


# ------------------------------------------------------------------------------------------ rule data


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    v = raw.get(key)
    if not isinstance(v, str) or not v.strip():
        raise RuleSetError(f"{where}.{key}: required non-empty string")
    return v.strip()


def _choices(raw: Mapping[str, Any], key: str, where: str, allowed: Sequence[str]) -> tuple[Any, ...]:
    v = raw.get(key, [])
    if not isinstance(v, list) or any(x not in allowed for x in v):
        raise RuleSetError(f"{where}.{key}: must be a list of {', '.join(allowed)}")
    return tuple(v)


def _date(raw: Mapping[str, Any], key: str, where: str) -> date:
    v = raw.get(key)
    if isinstance(v, date):  # YAML loads an unquoted date as a date
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise RuleSetError(f"{where}.{key}: required date YYYY-MM-DD")


def parse_rules(data: object, *, name: str = "rules") -> RuleSet:
    """Validate rule data (as loaded from YAML) and build a RuleSet; raise RuleSetError naming the field."""
    if not isinstance(data, dict):
        raise RuleSetError(f"{name}: top level must be a mapping")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RuleSetError(f"{name}: version: required string")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleSetError(f"{name}: rules: required non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        where = f"{name}: rules[{i}]"
        if not isinstance(raw, dict):
            raise RuleSetError(f"{where}: must be a mapping")
        code = _str(raw, "code", where)
        where = f"{name}: rules[{i}] ({code})"
        if code in seen:
            raise RuleSetError(f"{where}.code: duplicate")
        seen.add(code)
        level = _str(raw, "level", where)
        if level not in LEVELS:
            raise RuleSetError(f"{where}.level: {level!r} is not one of {', '.join(LEVELS)}")
        kind = _str(raw, "kind", where)
        if kind not in KINDS:
            raise RuleSetError(f"{where}.kind: {kind!r} is not a known rule kind")
        pats = raw.get("jurisdictions")
        if (
            not isinstance(pats, list)
            or not pats
            or any(not isinstance(p, str) or not _PATTERN.match(p) for p in pats)
        ):
            raise RuleSetError(f"{where}.jurisdictions: required list of US-*, AU-*, UK or one jurisdiction")
        activities = _choices(raw, "activities", where, ACTIVITIES)
        if kind in ("in_person_only", "in_person_evaluation", "records_access", "notice") and not activities:
            raise RuleSetError(f"{where}.activities: required for kind {kind}")
        modalities = _choices(raw, "modalities", where, REMOTE_MODALITIES)
        if kind == "modality_notice" and not modalities:
            raise RuleSetError(f"{where}.modalities: required for kind {kind}")
        scope = raw.get("scope", "")
        if kind == "licensure" and scope not in ("state", "country"):
            raise RuleSetError(f"{where}.scope: must be state or country for kind licensure")
        unknown = raw.get("unknown_level")
        if kind in ("licensure", "records_access") and unknown not in LEVELS:
            raise RuleSetError(f"{where}.unknown_level: required, one of {', '.join(LEVELS)}")
        flex: Flexibility | None = None
        if "flexibility" in raw:
            fr = raw["flexibility"]
            fw = f"{where}.flexibility"
            if kind != "in_person_evaluation" or not isinstance(fr, dict):
                raise RuleSetError(f"{fw}: a mapping, only for kind in_person_evaluation")
            start, until = _date(fr, "from", fw), _date(fr, "until", fw)
            if until < start:
                raise RuleSetError(f"{fw}.until: before from")
            fmods = _choices(fr, "modalities", fw, REMOTE_MODALITIES)
            if not fmods:
                raise RuleSetError(f"{fw}.modalities: required")
            flex = Flexibility(
                code=_str(fr, "code", fw),
                message=_str(fr, "message", fw),
                source=_str(fr, "source", fw),
                start=start,
                until=until,
                modalities=fmods,
            )
        rules.append(
            Rule(
                code=code,
                level=level,
                kind=kind,
                jurisdictions=tuple(pats),
                message=_str(raw, "message", where),
                source=_str(raw, "source", where),
                activities=activities,
                drugs=_choices(raw, "drugs", where, DRUGS),
                modalities=modalities,
                scope=scope,
                unknown_level=cast("Level | None", unknown),
                flexibility=flex,
            )
        )
    return RuleSet(version=version.strip(), rules=tuple(rules))


@functools.cache
def load_rules() -> RuleSet:
    """The packaged rules (telehealth/data/rules.yaml), validated and cached."""
    text = (
        resources.files("ketaclinic.core.telehealth")
        .joinpath("data", "rules.yaml")
        .read_text(encoding="utf-8")
    )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSetError(f"rules.yaml: not valid YAML: {exc}") from exc
    return parse_rules(data, name="rules.yaml")


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
