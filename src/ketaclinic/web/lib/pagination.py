"""Pagination for every long list: a validated page number, a fixed page size, and links that keep the filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from ketaclinic.web.lib.errors import ValidationFailed

PAGE_SIZE = 50


def page_number(request: HttpRequest, param: str = "page") -> int:
    """The page asked for in `param` (1 when absent); anything but a whole number of 1 or more is refused."""
    raw = request.GET.get(param, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationFailed(
            {param: ["must be a whole number of 1 or more"]}, "The page number is not valid."
        )
    return int(raw)


def paginate(
    request: HttpRequest, items: Sequence[Any] | Any, *, per_page: int = PAGE_SIZE, param: str = "page"
) -> Page[Any]:
    """One page of `items` (a queryset or a list); a number past the end shows the last page."""
    return Paginator(items, per_page).get_page(page_number(request, param))
