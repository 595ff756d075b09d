"""The typed facts an intake Bundle is parsed into, and the problems parsing reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

SCREENED_TYPES = ("Patient", "Condition", "Observation", "MedicationStatement", "AllergyIntolerance")


#: Resource types that may appear in an intake bundle and are read only as referenced targets or ignored.
TOLERATED_TYPES = ("Medication", "Encounter", "Practitioner", "Organization", "Provenance")


USABLE_OBSERVATION_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})


#: Missing subject/patient references are tolerated: a single-patient intake bundle is about its Patient.
_TOLERATED_REQUIRED = frozenset(
    {
        ("Condition", "subject"),
        ("Observation", "subject"),
        ("MedicationStatement", "subject"),
        ("AllergyIntolerance", "patient"),
    }
)


class ProblemKind:
    CODE = "code"
    BLOOD_PRESSURE = "blood_pressure"
    WEIGHT = "weight"
    PREGNANCY = "pregnancy"
    BIRTH_DATE = "birth_date"


@dataclass(frozen=True, slots=True)
class IntakeProblem:
    """One problem: the resource reference (e.g. "Condition/abc"), the field path, and the reason."""

    ref: str
    path: str
    message: str
    kind: str = ProblemKind.CODE

    def __str__(self) -> str:
        return f"{self.ref}: {self.path}: {self.message}"


class BundleError(ValueError):
    """The bundle is malformed; `issues` names every offending resource and field."""

    def __init__(self, issues: Sequence[IntakeProblem]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A FHIR date/dateTime at its stated precision: the earliest and latest calendar day it can mean."""

    earliest: date
    latest: date
    instant: datetime  # for ordering: the moment given, or 00:00 UTC of `earliest` for date-only values
    text: str

    @property
    def is_day_precise(self) -> bool:
        return self.earliest == self.latest


@dataclass(frozen=True, slots=True)
class PatientFact:
    ref: str
    birth_date: PartialDate | None


@dataclass(frozen=True, slots=True)
class ConditionFact:
    ref: str
    icd10cm: tuple[str, ...]  # valid, normalised (dotted) ICD-10-CM codes
    snomed: tuple[str, ...]
    text: str
    clinical_status: str | None  # active | recurrence | relapse | inactive | remission | resolved | None
    verification_status: str | None
    onset: PartialDate | None
    abatement: PartialDate | None
    abated: bool  # abatement[x] present in any form (boolean true, string, age, range, date)


@dataclass(frozen=True, slots=True)
class AllergyFact:
    ref: str
    codes: tuple[tuple[str, str], ...]  # (system, code)
    names: tuple[str, ...]  # code.text, codings' display, reaction substance texts
    clinical_status: str | None
    verification_status: str | None


@dataclass(frozen=True, slots=True)
class MedicationFact:
    ref: str
    rxnorm: tuple[str, ...]
    names: tuple[str, ...]
    status: str
    start: PartialDate | None
    end: PartialDate | None


@dataclass(frozen=True, slots=True)
class BloodPressureReading:
    refs: tuple[str, ...]
    when: PartialDate
    systolic: float | None
    diastolic: float | None


@dataclass(frozen=True, slots=True)
class WeightReading:
    ref: str
    when: PartialDate
    kg: float


@dataclass(frozen=True, slots=True)
class PregnancyStatusReading:
    ref: str
    when: PartialDate
    pregnant: bool


@dataclass(frozen=True, slots=True)
class Intake:
    """Everything screening reads from a bundle, plus the elements that could not be used."""

    patient: PatientFact
    conditions: tuple[ConditionFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    blood_pressures: tuple[BloodPressureReading, ...] = ()
    weights: tuple[WeightReading, ...] = ()
    pregnancy_statuses: tuple[PregnancyStatusReading, ...] = ()
    problems: tuple[IntakeProblem, ...] = field(default=())
    ignored: tuple[str, ...] = ()  # refs of resources read but not used (entered-in-error, other types, ...)
