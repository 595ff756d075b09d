"""Hooks other apps register: dose times per patient (the treatment app), used for trends and baselines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

DoseTimesProvider = Callable[[Any], list[datetime]]

DOSE_TIMES_PROVIDERS: list[DoseTimesProvider] = []


def register_dose_times_provider(provider: DoseTimesProvider) -> None:
    """Register `provider(patient) -> [dose datetimes]` (timezone-aware). The treatment app calls this."""
    if provider not in DOSE_TIMES_PROVIDERS:
        DOSE_TIMES_PROVIDERS.append(provider)


def dose_times(patient: Patient) -> list[datetime]:
    """All registered dose times for `patient`, sorted; an empty list when no provider is registered."""
    out: list[datetime] = []
    for provider in DOSE_TIMES_PROVIDERS:
        out.extend(provider(patient))
    return sorted(out)


SuicideAlertHook = Callable[..., object]

#: Called inside the transaction that raises a suicide-risk alert, as hook(alert, actor=..., request=...).
SUICIDE_ALERT_HOOKS: list[SuicideAlertHook] = []


def register_suicide_alert_hook(hook: SuicideAlertHook) -> None:
    """Register `hook(alert, *, actor, request)`; the surveillance app opens a safety-plan task with it."""
    if hook not in SUICIDE_ALERT_HOOKS:
        SUICIDE_ALERT_HOOKS.append(hook)
