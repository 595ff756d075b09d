"""Template helpers shared by every app."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.http import QueryDict
from django.urls import NoReverseMatch, reverse

from ketaclinic.web.lib import words

register = template.Library()


@register.filter
def plain_number(value: Any) -> str:
    """A decimal without trailing zeros (44.20 → 44.2, 35.00 → 35); anything else as text."""
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "" if value is None else str(value)
    text = format(d.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


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


#: Words that end a field's code and name its unit, shown in brackets in a field label ("weight_kg" -> "Weight (kg)").
_UNIT_SUFFIXES = {
    "kg": "kg",
    "mg": "mg",
    "ml": "mL",
    "min": "min",
    "mmhg": "mmHg",
    "pct": "%",
    "days": "days",
}
#: Keys that name the whole form rather than one field.
_FORM_KEYS = {"", "__all__", "non_field_errors", "form"}


@register.filter
def field_label(name: str) -> str:
    """A readable label for a field code when the form gives none: "initial_weight_kg" -> "Initial weight (kg)"."""
    parts = [p for p in str(name).split("_") if p]
    if parts and parts[-1] == "id":
        parts = parts[:-1]
    unit = _UNIT_SUFFIXES.get(parts[-1].lower()) if len(parts) > 1 else None
    if unit:
        parts = parts[:-1]
    text = " ".join(parts).capitalize() or "This form"
    return f"{text} ({unit})" if unit else text


@register.inclusion_tag("_error_summary.html")
def error_summary(errors: Any, labels: Any = None, intro: str = "") -> dict[str, Any]:
    """The error summary for a form's `errors` ({field: [reasons]}): one line per reason, linked to `id_<field>`.

    `labels` ({field: label}) names fields in the form's own words; otherwise the code is turned into words.
    """
    items: list[dict[str, str]] = []
    for name, reasons in (errors or {}).items():
        if isinstance(reasons, str):
            reasons = [reasons]
        whole_form = name in _FORM_KEYS
        label = "" if whole_form else ((labels or {}).get(name) or field_label(name))
        for reason in reasons:
            items.append(
                {"anchor": "" if whole_form else f"id_{name}", "label": label, "message": str(reason)}
            )
    return {"items": items, "intro": intro}


@register.simple_tag(takes_context=True)
def page_query(context: Any, param: str, number: int) -> str:
    """The current query string with `param` set to `number` (the filters of a list are kept)."""
    request = context.get("request")
    query = request.GET.copy() if request is not None else QueryDict(mutable=True)
    query[param] = str(number)
    return "?" + query.urlencode()


@register.filter
def page_window(paginator: Any, current: int) -> list[int | None]:
    """Page numbers to link: the first, the last and two either side of `current`; None marks a gap."""
    last = int(paginator.num_pages)
    wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    out: list[int | None] = []
    for n in wanted:
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


@register.filter
def own_message(error: Any) -> str:
    """An error's message unless it only repeats its fields' codes and reasons (those are listed in words)."""
    fields = getattr(error, "fields", None) or {}
    message = str(getattr(error, "message", "") or "")
    generated = "; ".join(f"{f}: {r[0]}" for f, r in fields.items() if r)
    return "" if fields and message in {generated, "invalid input"} else message


@register.filter
def getlist(query: Any, key: str) -> list[str]:
    """All values of `key` in a QueryDict (e.g. the ticked boxes of a re-rendered form)."""
    try:
        return list(query.getlist(key))
    except AttributeError:
        return []


_SNAKE_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@register.filter
def code_words(text: Any) -> str:
    """Snake_case codes in `text` written as words ("needs_review" -> "needs review"); other text unchanged."""
    return _SNAKE_WORD.sub(lambda m: m.group(0).replace("_", " "), "" if text is None else str(text))


@register.filter
def human_units(text: Any) -> str:
    """UCUM unit codes in `text` as people write them: "mm[Hg]" -> "mmHg", "[lb_av]" -> "lb av"."""
    return words.human_units("" if text is None else str(text))
