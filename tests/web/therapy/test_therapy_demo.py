"""Demo therapy data, seeded through the real actions by `ketaclinic demo` (after the treatment demo's sessions)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ketaclinic.web import demo
from ketaclinic.web.therapy.models import PsychotherapyNote, TherapySession

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(demo, "DOMAIN_APPS", ("assessments", "screening", "treatment", "therapy"))
    ctx = demo.seed_demo()
    assert ctx is not None
    return ctx


def test_therapy_demo(seeded: Any) -> None:
    kinds = Counter(TherapySession.objects.values_list("kind", flat=True))
    assert kinds["preparation"] == kinds["integration"] > 0
    assert set(TherapySession.objects.values_list("therapist__username", flat=True)) == {"therapist.ng"}
    note = PsychotherapyNote.objects.get()
    assert note.author.username == "therapist.ng"
