"""Cohort outcomes: response, remission and time to response over many patients, with open definitions."""

from ketaclinic.core.outcomes.cohort import (
    Cohort,
    CohortError,
    CohortPatient,
    CohortResult,
    CohortRules,
    PatientOutcome,
    Proportion,
    Score,
    analyse_cohort,
    analyse_outcomes,
    assess_patient,
    cohort_instrument_ids,
    cohort_rules,
    parse_cohort,
    split_scores,
)
from ketaclinic.core.outcomes.stats import KMCurve, KMStep, kaplan_meier, wilson_interval

__all__ = [
    "Cohort",
    "CohortError",
    "CohortPatient",
    "CohortResult",
    "CohortRules",
    "KMCurve",
    "KMStep",
    "PatientOutcome",
    "Proportion",
    "Score",
    "analyse_cohort",
    "analyse_outcomes",
    "assess_patient",
    "cohort_instrument_ids",
    "cohort_rules",
    "kaplan_meier",
    "parse_cohort",
    "split_scores",
    "wilson_interval",
]
