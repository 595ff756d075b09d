"""Template helpers shared by every app."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    if not mapping:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag
def url_if_exists(name: str, *args: Any) -> str:
    """Reverse `name`, or return "" when no app provides that URL yet."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        return ""
