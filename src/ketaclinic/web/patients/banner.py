"""The patient banner on every clinical page: who the patient is and what to know before touching them.

One selector (`patient_banner`) builds it; one partial (`patients/_banner.html`) renders it. The patients app
knows demographics and weight; higher apps add their facts through registered providers (screening:
allergies and screening status; assessments and monitoring: open alerts; treatment: protocol, course position,
consent and session alerts), so this module imports none of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

#: A provider takes (patient, session or None) and returns facts to merge: any of "allergies" (list[str]),
#: "screening" (str), "screening_level" ("ok" | "warning" | "danger"), "consent" (str), "consent_ok" (bool),
#: "protocol" (str), "course_position" (str), and "open_alerts" (int, added up across providers).
BannerFacts = Callable[[Any, Any], dict[str, Any]]
BANNER_FACTS: list[BannerFacts] = []


def register_banner_facts(provider: BannerFacts) -> None:
    if provider not in BANNER_FACTS:
        BANNER_FACTS.append(provider)


@dataclass
class PatientBanner:
    patient: Patient
    name: str
    age: int
    sex: str
    clinical: bool
    weight_kg: Any = None
    weight_on: dt.date | None = None
    weight_days: int | None = None
    weight_limit_days: int = 30
    allergies: list[str] = field(default_factory=list)
    screening: str = ""
    screening_level: str = "warning"
    consent: str = ""
    consent_ok: bool = False
    protocol: str = ""
    course_position: str = ""
    open_alerts: int = 0

    @property
    def weight_stale(self) -> bool:
        """True when the weight is missing or older than the clinic's limit."""
        return self.weight_days is None or self.weight_days > self.weight_limit_days


def patient_banner(patient: Patient, *, clinical: bool, session: Any = None) -> PatientBanner:
    """The banner for `patient` (already read through the access functions by the caller's view).

    Without clinical reading rights (`clinical` False) it holds the name, age and sex only. `session` (a
    dosing session being run) places the course position at that session instead of the latest one.
    """
    today = timezone.localdate()
    banner = PatientBanner(
        patient=patient,
        name=patient.full_name,
        age=patient.age_on(today),
        sex=patient.get_sex_at_birth_display(),
        clinical=clinical,
    )
    if not clinical:
        return banner
    banner.weight_limit_days = patient.clinic.weight_max_age_days
    weight = patient.latest_weight()
    if weight is not None:
        banner.weight_kg = weight.weight_kg
        banner.weight_on = timezone.localdate(weight.measured_at)
        banner.weight_days = (today - banner.weight_on).days
    for provider in BANNER_FACTS:
        facts = provider(patient, session)
        alerts = int(facts.pop("open_alerts", 0))
        banner.open_alerts += alerts
        for key, value in facts.items():
            setattr(banner, key, value)
    return banner
