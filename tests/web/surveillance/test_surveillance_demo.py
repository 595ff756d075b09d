"""The long-term safety demo: four patients whose evaluation shows exactly their story."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.web import demo
from ketaclinic.web.surveillance import selectors
from ketaclinic.web.surveillance.demo import ROLES

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_patients_tell_their_story(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "DOMAIN_APPS", ("surveillance",))
    ctx = demo.seed_demo(patients=12)
    assert ctx is not None
    patients: dict[str, Any] = ctx.extra["surveillance_patients"]
    assert list(patients) == list(ROLES)
    ev = {role: selectors.evaluate_patient(p) for role, p in patients.items()}

    def codes(role: str) -> list[tuple[str, str]]:
        return [(f.code, f.level) for f in ev[role].result.findings]

    assert ev["maintenance"].result.exposure.sessions >= 20
    assert codes("maintenance") == []
    assert codes("bladder") == [("bladder_symptoms", "alert"), ("haematuria", "alert")]
    assert codes("escalation") == [("escalation_tolerance", "alert")]
    assert codes("overdue") == [
        ("bladder_screen_overdue", "overdue"),
        ("dependence_screen_overdue", "overdue"),
        ("cognition_screen_overdue", "overdue"),
    ]
    watch = [p.pk for p, _ in selectors.clinic_watchlist(ctx.clinic)]
    assert sorted(watch) == sorted(patients[r].pk for r in ("bladder", "escalation", "overdue"))
