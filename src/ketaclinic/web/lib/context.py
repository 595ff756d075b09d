"""Template context: the active clinic, the user's clinics (for the switcher) and their permissions there."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ketaclinic.web.accounts.roles import perms_for_roles, roles_in_clinic


def clinic_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from ketaclinic.web.access import clinic_for_request, user_clinics

    clinic = clinic_for_request(request)
    roles = roles_in_clinic(user, clinic.pk) if clinic is not None else set()
    return {
        "active_clinic": clinic,
        "my_clinics": user_clinics(user),
        "my_roles": sorted(roles),
        "my_perms": {p.value for p in perms_for_roles(roles)},
    }
