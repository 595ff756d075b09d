"""The patient chart's tabs and header banners. Domain apps add their tab here and register banner providers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient


@dataclass(frozen=True)
class ChartTab:
    slug: str
    label: str
    url_name: str  # reversed with kwargs={"patient_id": ...}


CHART_TABS: list[ChartTab] = [
    ChartTab("overview", "Overview", "patients:chart"),
    ChartTab("assessments", "Assessments", "assessments:chart_tab"),
    ChartTab("screening", "Screening", "screening:chart_tab"),
    ChartTab("treatment", "Treatment", "treatment:chart_tab"),
    ChartTab("pain", "Pain", "pain:chart_tab"),
    ChartTab("careplan", "Care plan", "careplan:chart_tab"),
    ChartTab("telehealth", "Telehealth", "telehealth:chart_tab"),
    ChartTab("therapy", "Therapy", "therapy:chart_tab"),
    ChartTab("safety", "Safety", "surveillance:chart_tab"),
    ChartTab("history", "History", "patients:history"),
]

# Each provider takes the Patient and returns a list of {"level": "danger"|"warning"|"info", "text": str, "url": str}.
BANNER_PROVIDERS: list[Callable[[Any], list[dict[str, str]]]] = []


def register_banner_provider(provider: Callable[[Any], list[dict[str, str]]]) -> None:
    if provider not in BANNER_PROVIDERS:
        BANNER_PROVIDERS.append(provider)


def chart_banners(patient: Patient) -> list[dict[str, str]]:
    banners: list[dict[str, str]] = []
    for provider in BANNER_PROVIDERS:
        banners.extend(provider(patient))
    return banners
