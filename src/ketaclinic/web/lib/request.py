"""The active clinic of a request (the clinic switcher's choice), resolved once per request."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.clinics.models import (
        Clinic,  # for the annotation only: lib imports no app at run time
    )


def clinic_for_request(request: HttpRequest) -> Clinic | None:
    """The clinic the signed-in user is working in (the clinic switcher's choice), or None."""
    from django.utils.functional import SimpleLazyObject, empty

    clinic = getattr(request, "clinic", None)
    if isinstance(clinic, SimpleLazyObject):
        if clinic._wrapped is empty:  # type: ignore[attr-defined]
            clinic._setup()  # type: ignore[attr-defined]
        return clinic._wrapped  # type: ignore[attr-defined,no-any-return]
    return clinic
