"""Number words for the outcomes page: fractions as percentages, rates per 100."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pct(value: float | None) -> str:
    """0.4567 -> "45.7 %"; None -> "not available"."""
    return "not available" if value is None else f"{value * 100:.1f} %"


@register.filter
def per100(value: float | None) -> str:
    return "not available" if value is None else f"{value:.1f}"
