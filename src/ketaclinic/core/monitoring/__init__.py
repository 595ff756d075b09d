"""Sensor monitoring: reading validation (LOINC/UCUM, plausibility, clock skew), streaming alert rules, simulator."""

from ketaclinic.core.monitoring.catalog import (
    DataFileError,
    Metric,
    MetricCatalog,
    load_catalog,
    parse_catalog,
)
from ketaclinic.core.monitoring.engine import (
    AlertEngine,
    AlertEvent,
    EventKind,
    SessionMonitor,
    escalation_due,
)
from ketaclinic.core.monitoring.rules import (
    EscalationPolicy,
    Rule,
    RuleSet,
    RuleType,
    Severity,
    load_default_ruleset,
    parse_ruleset,
)
from ketaclinic.core.monitoring.simulator import VitalsSimulator, bp_rise_fraction
from ketaclinic.core.monitoring.validation import (
    FieldError,
    Reading,
    compact_from_observation,
    validate_compact,
)

__all__ = [
    "AlertEngine",
    "AlertEvent",
    "DataFileError",
    "EscalationPolicy",
    "EventKind",
    "FieldError",
    "Metric",
    "MetricCatalog",
    "Reading",
    "Rule",
    "RuleSet",
    "RuleType",
    "SessionMonitor",
    "Severity",
    "VitalsSimulator",
    "bp_rise_fraction",
    "compact_from_observation",
    "escalation_due",
    "load_catalog",
    "load_default_ruleset",
    "parse_catalog",
    "parse_ruleset",
    "validate_compact",
]
