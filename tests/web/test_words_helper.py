"""The human-words helper finds each kind of code in visible text, and only there."""

from __future__ import annotations

import pytest
from tests.web.words import assert_human_text, raw_codes, visible_text


def test_visible_text_drops_attributes_scripts_and_styles() -> None:
    html = (
        '<p title="discharge_ready">Ready</p><script>var a_b = 1;</script><style>.x_y{}</style>'
        '<input type="submit" value="Sign order"><input name="dose_mg" placeholder="Dose in mg">'
    )
    assert visible_text(html) == "Ready Sign order Dose in mg"
    assert_human_text(html)


@pytest.mark.parametrize(
    ("text", "rule", "match"),
    [
        ("Status: discharge_ready", "snake_case code", "discharge_ready"),
        ("Answer to item_1", "snake_case code", "item_1"),
        ("BP 120/80 mm[Hg]", "UCUM code in brackets", "mm[Hg]"),
        ("Observe for 5400 s", "duration in raw seconds", "5400 s"),
        ("See dosing-guide.md §6", "reference to a repository file", "dosing-guide.md §6"),
        ("Rules in data/ruleset.yaml", "reference to a repository file", "data/ruleset.yaml"),
    ],
)
def test_each_kind_of_code_is_found(text: str, rule: str, match: str) -> None:
    found = raw_codes(text)
    assert len(found) == 1 and found[0].startswith(f'{rule}: "{match}"'), found
    with pytest.raises(AssertionError, match=rule):
        assert_human_text(f"<p>{text}</p>")


@pytest.mark.parametrize(
    "text",
    [
        "Blood pressure 120/80 mmHg, observe for 90 min, wait 5 s",
        "Mail front-desk@example.invalid or see https://example.org/a_b",
        "Stanley B, Brown GK (2012). Safety Planning Intervention. 21 CFR §1306.04",
        "Dose 0.5 mg/kg over 40 min [optional]",
    ],
)
def test_words_pass(text: str) -> None:
    assert raw_codes(text) == []
