"""Template context for the nav: the open-alert count, computed only when a page shows it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def nav_counts(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from ketaclinic.web.access import clinic_for_request
        from ketaclinic.web.home.inbox import open_alert_count

        return open_alert_count(user, clinic_for_request(request))

    return {"nav_alert_count": SimpleLazyObject(count)}
