"""Parse a FHIR R4 intake Bundle into typed facts for eligibility screening, naming the resource and field of every problem.

Two kinds of problem are reported:

* **fatal** (`BundleError`): the bundle cannot be trusted as a whole — not a Bundle, a resource that fails FHIR
  structural validation (`ketaclinic.core.fhir.validate`), no Patient or more than one, or a resource about a
  different patient. Screening must not run; the CLI exits 2 naming every issue.
* **unusable element** (`IntakeProblem` in `Intake.problems`): one element cannot be used — a Condition with no
  code or only codes in an unsupported system, a blood pressure without mm[Hg] units, a weight without a unit, a
  Patient without a birth date. The screening engine turns these into findings (never a silent `eligible`).

The package is split into `facts` (the typed results), `fields` (field readers) and `parser`; every public
name is re-exported here.
"""

from __future__ import annotations

from ketaclinic.core.fhir.intake.facts import (
    SCREENED_TYPES,
    TOLERATED_TYPES,
    USABLE_OBSERVATION_STATUSES,
    AllergyFact,
    BloodPressureReading,
    BundleError,
    ConditionFact,
    Intake,
    IntakeProblem,
    MedicationFact,
    PartialDate,
    PatientFact,
    PregnancyStatusReading,
    ProblemKind,
    WeightReading,
)
from ketaclinic.core.fhir.intake.fields import parse_partial_date
from ketaclinic.core.fhir.intake.parser import parse_bundle

__all__ = [
    "SCREENED_TYPES",
    "TOLERATED_TYPES",
    "USABLE_OBSERVATION_STATUSES",
    "AllergyFact",
    "BloodPressureReading",
    "BundleError",
    "ConditionFact",
    "Intake",
    "IntakeProblem",
    "MedicationFact",
    "PartialDate",
    "PatientFact",
    "PregnancyStatusReading",
    "ProblemKind",
    "WeightReading",
    "parse_bundle",
    "parse_partial_date",
]
