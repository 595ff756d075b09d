"""Stored alert messages read in words: unit codes and second counts from the core's rule wording."""

from __future__ import annotations

import pytest

from ketaclinic.web.lib.words import human_text, human_units


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("SBP above 180 mm[Hg]: now 185 mm[Hg]", "SBP above 180 mmHg: now 185 mmHg"),
        ("HR above 110 /min for 30 s", "HR above 110 /min for 30 seconds"),
        ("escalated after 5400 s", "escalated after 90 minutes"),
        ("held 60 s", "held 1 minute"),
        ("held 1 s", "held 1 second"),
        ("SpO2 fall of ≥4 % within 60 s", "SpO2 fall of ≥4 % within 1 minute"),
        ("weight 180 [lb_av]", "weight 180 lb av"),
        ("3 sessions", "3 sessions"),
        ("v1.5 s", "v1.5 s"),
    ],
)
def test_human_text(raw: str, words: str) -> None:
    assert human_text(raw) == words


def test_human_units_leaves_seconds() -> None:
    assert human_units("for 30 s at 120 mm[Hg]") == "for 30 s at 120 mmHg"
