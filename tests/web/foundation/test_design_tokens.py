"""The design tokens meet WCAG 2.2 AA: text colours on their backgrounds (4.5:1) and the focus ring (3:1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[3] / "src/ketaclinic/web/static/ketaclinic/app.css").read_text()
TOKENS = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", CSS))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("color-ink", "color-surface"),
        ("color-ink", "color-bg"),
        ("color-muted", "color-surface"),
        ("color-muted", "color-bg"),
        ("color-link", "color-surface"),
        ("color-brand-ink", "color-brand"),
        ("color-ok", "color-ok-bg"),
        ("color-warn", "color-warn-bg"),
        ("color-danger", "color-danger-bg"),
        ("color-info", "color-info-bg"),
        ("color-ink", "color-neutral-bg"),
        ("color-danger", "color-surface"),
        ("focus-ink", "focus-ring"),
    ],
)
def test_text_pairs_reach_aa(text: str, background: str) -> None:
    assert contrast(TOKENS[text], TOKENS[background]) >= 4.5


@pytest.mark.parametrize(
    "background", ["color-surface", "color-bg", "color-surface-alt", "color-brand", "color-danger"]
)
def test_focus_ring_shows_on_every_background(background: str) -> None:
    # The ring is dark inside yellow: at least one of the two reaches 3:1 against whatever it sits on.
    ring = max(
        contrast(TOKENS["focus-ink"], TOKENS[background]), contrast(TOKENS["focus-ring"], TOKENS[background])
    )
    assert ring >= 3.0


def test_the_focus_ring_is_drawn_by_the_tokens() -> None:
    rule = re.search(r":focus-visible \{([^}]*)\}", CSS)
    assert rule is not None
    assert "outline: var(--focus-width) solid var(--focus-ink)" in rule.group(1)
    assert "var(--focus-ring)" in rule.group(1)
    assert re.search(r"--focus-width:\s*3px", CSS)
