"""The time zone a clinic's pages are shown in: its sites' setting, else the server's TIME_ZONE."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings


def zone_name_of_clinic(clinic: Any) -> str:
    """The IANA zone of the clinic's first site (by name) that names one; the server default otherwise.

    A clinic whose sites sit in different zones shows its pages in the first site's zone; a page about one
    site (a session's run sheet) may override it with that site's zone.
    """
    from ketaclinic.web.clinics.models import Site

    names = (
        Site.objects.filter(clinic=clinic)
        .exclude(timezone="")
        .order_by("name")
        .values_list("timezone", flat=True)
    )
    for name in names[:1]:
        return str(name)
    return str(settings.TIME_ZONE)


def zone_or_default(name: str | None) -> zoneinfo.ZoneInfo:
    """`name` as a zone; an unknown or empty name falls back to the server's TIME_ZONE (never an error page)."""
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
