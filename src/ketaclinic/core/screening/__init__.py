"""Eligibility screening: an explainable contraindication engine over FHIR intake, driven by a versioned rule set."""

from ketaclinic.core.screening.engine import (
    LEVELS,
    ROUTES,
    Decision,
    Finding,
    Level,
    Route,
    Rule,
    RuleSet,
    RuleSetError,
    RuleTrace,
    ScreeningResult,
    decide,
    load_ruleset,
    parse_ruleset,
    screen,
    screen_bundle,
)

__all__ = [
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
