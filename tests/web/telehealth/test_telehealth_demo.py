"""Demo telehealth data, seeded through the real actions by `ketaclinic demo`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ketaclinic.web import demo
from ketaclinic.web.telehealth.models import ClinicianLicence, TelehealthConsent, Visit

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(demo, "DOMAIN_APPS", ("telehealth",))
    ctx = demo.seed_demo(patients=8)
    assert ctx is not None
    return ctx


def test_telehealth_demo(seeded: Any) -> None:
    assert ClinicianLicence.objects.count() == 4
    assert TelehealthConsent.objects.count() == 6
    assert Counter(Visit.objects.values_list("modality", "activity", "status", "decision")) == {
        ("in_person", "evaluation", "completed", "allowed"): 6,
        ("video", "follow_up", "scheduled", "allowed"): 6,
        ("telephone", "therapy", "scheduled", "allowed"): 6,
    }
    assert Visit.objects.filter(patient_jurisdiction="US-NV").count() == 2
