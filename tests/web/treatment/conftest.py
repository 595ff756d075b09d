"""Treatment test fixtures: screening cleared and consent on file (the screening app's selectors are stubbed)."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.web.treatment import selectors
from ketaclinic.web.treatment.actions import courses


@pytest.fixture
def cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(courses, "_screening_cleared", lambda patient: True)
    monkeypatch.setattr(courses, "_consent_on_file", lambda patient, protocol, indication: True)
    monkeypatch.setattr(selectors, "_suicide_alert_open", lambda patient: False)


@pytest.fixture(autouse=True)
def _witnesses_without_two_factor(settings: Any) -> None:
    """These tests' witnesses have not set up two-factor sign-in, so it is not required of them here; the
    witness's code is tested in tests/web/ledger/test_witness_two_factor.py."""
    settings.KETACLINIC_2FA_ENFORCE = False
