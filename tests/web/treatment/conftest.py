"""Treatment test fixtures: screening cleared and consent on file (the screening app's selectors are stubbed)."""

from __future__ import annotations

import pytest

from ketaclinic.web.treatment import selectors
from ketaclinic.web.treatment.actions import courses


@pytest.fixture
def cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(courses, "_screening_cleared", lambda patient: True)
    monkeypatch.setattr(courses, "_consent_on_file", lambda patient, protocol, indication: True)
    monkeypatch.setattr(selectors, "_suicide_alert_open", lambda patient: False)
