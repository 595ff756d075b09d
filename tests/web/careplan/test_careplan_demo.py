"""Demo care plans, seeded through the real actions by `ketaclinic demo` (after the treatment demo's courses)."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web import demo
from ketaclinic.web.careplan.fhir import care_plan_resource
from ketaclinic.web.careplan.models import CarePlan

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(demo, "DOMAIN_APPS", ("assessments", "screening", "treatment", "therapy", "careplan"))
    ctx = demo.seed_demo()
    assert ctx is not None
    return ctx


def test_careplan_demo_plans_export_valid_fhir(seeded: Any) -> None:
    plans = list(CarePlan.objects.all())
    assert 0 < len(plans) <= 6
    for plan in plans:
        assert plan.goals.count() == 2 and plan.activities.count() == 6 and plan.warning_signs
        assert validate_resource(care_plan_resource(plan)) == []
