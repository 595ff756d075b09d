"""The only way to reach a patient's data: scoped to the user's clinics, permission-checked, and audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, memberships_of
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

    from ketaclinic.web.clinics.models import Clinic
    from ketaclinic.web.patients.models import Patient


def user_clinic_ids(user: Any) -> list[int]:
    """Ids of the clinics where `user` has an active membership."""
    return sorted(memberships_of(user))


def user_clinics(user: Any) -> list[Clinic]:
    """The user's clinics by name (cached on the user object for the request)."""
    from ketaclinic.web.clinics.models import Clinic

    cached: list[Clinic] | None = user.__dict__.get("_kc_clinics") if user is not None else None
    if cached is None:
        cached = list(Clinic.objects.filter(pk__in=user_clinic_ids(user)).order_by("name"))
        if user is not None:
            user.__dict__["_kc_clinics"] = cached
    return cached


def access_clinic_by_id(user: Any, clinic_id: int, *, perm: Perm | None = None) -> Clinic:
    """The clinic if `user` is a member (and holds `perm` there, when given)."""

    clinic = next((c for c in user_clinics(user) if c.pk == clinic_id), None)
    if clinic is None:
        raise NotFoundError("no such clinic")
    if perm is not None and not has_perm_in_clinic(user, clinic, perm):
        raise PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")
    return clinic


def patients_visible_to(user: Any, *, clinic: Clinic | None = None) -> QuerySet[Patient]:
    """Patients in the clinics where `user` may view patients (optionally one clinic). Not audited: list views
    audit the search itself."""
    from ketaclinic.web.patients.models import Patient

    ids = [c for c in user_clinic_ids(user) if has_perm_in_clinic(user, c, Perm.PATIENT_VIEW)]
    if clinic is not None:
        ids = [c for c in ids if c == clinic.pk]
    return Patient.objects.filter(clinic_id__in=ids)


def access_patient_by_id(
    user: Any,
    patient_id: int,
    *,
    clinic: Clinic | None = None,
    perm: Perm = Perm.PATIENT_VIEW,
    request: HttpRequest | None = None,
    audit_action: str | None = "patient.view",
    for_update: bool = False,
) -> Patient:
    """Return the patient if `user` may act on it with `perm`, recording the read in the audit trail.

    - the patient must belong to one of the user's clinics (else NotFoundError: existence is not disclosed);
    - when `clinic` is given, the patient must belong to it;
    - the user's roles in the patient's clinic must grant `perm` (else PermissionDeniedError).
    Pass `audit_action=None` when the caller's action writes its own audit record for the same request.
    """
    from ketaclinic.web.patients.models import Patient

    qs = Patient.objects.select_related("clinic", "home_site")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    patient = qs.filter(pk=patient_id, clinic_id__in=user_clinic_ids(user)).first()
    if patient is None or (clinic is not None and patient.clinic_id != clinic.pk):
        raise NotFoundError("no such patient")
    if not has_perm_in_clinic(user, patient.clinic_id, perm):
        raise PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")
    if audit_action:
        with transaction.atomic():
            record_audit(actor=user, action=audit_action, obj=patient, request=request)
    return patient


def clinic_for_request(request: HttpRequest) -> Clinic | None:
    """The clinic the signed-in user is working in (the clinic switcher's choice), or None."""
    from django.utils.functional import SimpleLazyObject, empty

    clinic = getattr(request, "clinic", None)
    if isinstance(clinic, SimpleLazyObject):
        if clinic._wrapped is empty:  # type: ignore[attr-defined]
            clinic._setup()  # type: ignore[attr-defined]
        return clinic._wrapped  # type: ignore[attr-defined,no-any-return]
    return clinic


def access_psychotherapy_note_by_id(user: Any, note_id: int, *, request: HttpRequest | None = None) -> Any:
    """A psychotherapy note, only for its author or a colleague the author shared it with (45 CFR 164.501, 164.508).

    Anyone else, whatever their role, gets NotFoundError: the note's existence is not disclosed. The read is audited.
    """
    from ketaclinic.web.therapy.models import PsychotherapyNote

    note = (
        PsychotherapyNote.objects.select_related("patient", "patient__clinic", "session", "author")
        .filter(pk=note_id, patient__clinic_id__in=user_clinic_ids(user))
        .first()
    )
    if note is None or not (note.author_id == user.pk or note.shares.filter(user=user).exists()):
        raise NotFoundError("no such note")
    with transaction.atomic():
        record_audit(
            actor=user, action=AuditAction.THERAPY_NOTE_VIEW, obj=note, patient=note.patient, request=request
        )
    return note
