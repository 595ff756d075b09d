"""Telehealth: the jurisdiction rules engine that decides what a remote visit may do, and why."""

from ketaclinic.core.telehealth.engine import (
    ACTIVITIES,
    DRUGS,
    MODALITIES,
    ClinicPolicy,
    Finding,
    RuleSet,
    RuleSetError,
    TelehealthResult,
    Visit,
    VisitError,
    evaluate,
    is_jurisdiction,
    load_rules,
    parse_policy,
    parse_rules,
    parse_visit,
)

__all__ = [
    "ACTIVITIES",
    "DRUGS",
    "MODALITIES",
    "ClinicPolicy",
    "Finding",
    "RuleSet",
    "RuleSetError",
    "TelehealthResult",
    "Visit",
    "VisitError",
    "evaluate",
    "is_jurisdiction",
    "load_rules",
    "parse_policy",
    "parse_rules",
    "parse_visit",
]
