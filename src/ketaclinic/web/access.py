"""The only way views, endpoints and actions reach a clinic's sensitive records: one access function per kind.

Every `access_<noun>_by_id` function
- finds the record only among the clinics where the user holds an effective membership (and, when `clinic` is
  given, only in that clinic): another clinic's record and a missing one raise the same NotFoundError (404);
- checks that the user's roles in the record's clinic grant the permission (PermissionDeniedError, 403, which
  the middleware and the API error handler record as an "access.denied" audit row);
- writes the read to the audit trail (with the record's clinic and patient) unless the caller passes
  `audit_action=None` because its own action audits the same request.

This module sits above the foundation apps (accounts, clinics, patients, audit) and below the domain apps. It
names the domain models by their app label ("treatment.DosingSession") and loads them from Django's app
registry, so it imports no domain app and every domain app may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import transaction

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, memberships_of
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, PermissionDeniedError
from ketaclinic.web.lib.request import clinic_for_request
from ketaclinic.web.patients.models import Patient

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest

__all__ = [
    "KINDS",
    "Kind",
    "access_alert_by_id",
    "access_assessment_by_id",
    "access_care_plan_by_id",
    "access_case_by_id",
    "access_clinic_by_id",
    "access_course_by_id",
    "access_device_by_id",
    "access_ledger_entry_by_id",
    "access_location_by_id",
    "access_lot_by_id",
    "access_order_by_id",
    "access_patient_by_id",
    "access_psychotherapy_note_by_id",
    "access_rems_form_by_id",
    "access_screening_run_by_id",
    "access_session_by_id",
    "access_site_by_id",
    "active_clinic",
    "clinic_for_request",
    "patients_visible_to",
    "user_clinic_ids",
    "user_clinics",
]


def user_clinic_ids(user: Any) -> list[int]:
    """Ids of the clinics where `user` has an active membership."""
    return sorted(memberships_of(user))


def user_clinics(user: Any) -> list[Clinic]:
    """The user's clinics by name (cached on the user object for the request)."""
    cached: list[Clinic] | None = user.__dict__.get("_kc_clinics") if user is not None else None
    if cached is None:
        cached = list(Clinic.objects.filter(pk__in=user_clinic_ids(user)).order_by("name"))
        if user is not None:
            user.__dict__["_kc_clinics"] = cached
    return cached


def _deny(perm: Perm) -> PermissionDeniedError:
    return PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")


def access_clinic_by_id(user: Any, clinic_id: int, *, perm: Perm | None = None) -> Clinic:
    """The clinic if `user` is a member (and holds `perm` there, when given)."""
    clinic = next((c for c in user_clinics(user) if c.pk == clinic_id), None)
    if clinic is None:
        raise NotFoundError("no such clinic")
    if perm is not None and not has_perm_in_clinic(user, clinic, perm):
        raise _deny(perm)
    return clinic


def active_clinic(
    request: HttpRequest,
    perm: Perm,
    *,
    message: str | None = None,
    audit_action: AuditAction | None = None,
    detail: dict[str, Any] | None = None,
) -> Clinic:
    """The clinic the user is working in, for a clinic-wide page, if their role there grants `perm`.

    No active clinic is NotFoundError; a role without `perm` is PermissionDeniedError (with `message`, when
    given). With `audit_action`, the page's read is recorded against the clinic.
    """
    clinic = clinic_for_request(request)
    if clinic is None:
        raise NotFoundError("no active clinic")
    if not has_perm_in_clinic(request.user, clinic, perm):
        raise PermissionDeniedError(message) if message else _deny(perm)
    if audit_action:
        with transaction.atomic():
            record_audit(
                actor=request.user, action=audit_action, clinic=clinic, request=request, detail=detail
            )
    return clinic


def patients_visible_to(user: Any, *, clinic: Clinic | None = None) -> QuerySet[Patient]:
    """Patients in the clinics where `user` may view patients (optionally one clinic). Not audited: list views
    audit the search itself."""
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
    audit_action: AuditAction | None = AuditAction.PATIENT_VIEW,
    for_update: bool = False,
) -> Patient:
    """Return the patient if `user` may act on it with `perm`, recording the read in the audit trail.

    - the patient must belong to one of the user's clinics (else NotFoundError: existence is not disclosed);
    - when `clinic` is given, the patient must belong to it;
    - the user's roles in the patient's clinic must grant `perm` (else PermissionDeniedError).
    Pass `audit_action=None` when the caller's action writes its own audit record for the same request.
    """
    qs = Patient.objects.select_related("clinic", "home_site")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    patient = qs.filter(pk=patient_id, clinic_id__in=user_clinic_ids(user)).first()
    if patient is None or (clinic is not None and patient.clinic_id != clinic.pk):
        raise NotFoundError("no such patient")
    if not has_perm_in_clinic(user, patient.clinic_id, perm):
        raise _deny(perm)
    if audit_action:
        with transaction.atomic():
            record_audit(actor=user, action=audit_action, obj=patient, request=request)
    return patient


@dataclass(frozen=True)
class Kind:
    """How to reach one kind of sensitive record: its model (by app label), the lookup from it to its clinic's
    id, the attribute path to its patient (None when it has none), the permission a read needs, the audit
    action of a read, and the relations loaded with it."""

    noun: str
    model: str
    clinic: str
    patient: str | None
    perm: Perm
    audit_action: AuditAction | None
    related: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    k.noun: k
    for k in (
        Kind("session", "treatment.DosingSession", "clinic_id", "patient", Perm.CLINICAL_VIEW,
             AuditAction.SESSION_VIEW, ("patient", "patient__clinic", "clinic", "site", "course", "order")),
        Kind("course", "treatment.TreatmentCourse", "clinic_id", "patient", Perm.CLINICAL_VIEW,
             AuditAction.COURSE_VIEW, ("patient", "clinic")),
        Kind("order", "treatment.Order", "course__clinic_id", "patient", Perm.CLINICAL_VIEW,
             AuditAction.ORDER_VIEW, ("patient", "course")),
        Kind("REMS form", "treatment.RemsMonitoringForm", "session__clinic_id", "session.patient",
             Perm.CLINICAL_VIEW, AuditAction.REMS_FORM_VIEW, ("session", "session__patient")),
        Kind("alert", "monitoring.MonitoringAlert", "site__clinic_id", "session.patient", Perm.CLINICAL_VIEW,
             AuditAction.MONITORING_ALERT_VIEW, ("site", "session", "session__patient")),
        Kind("device", "monitoring.Device", "clinic_id", None, Perm.DEVICE_MANAGE, AuditAction.MONITORING_DEVICE_VIEW,
             ("site",)),
        Kind("site", "clinics.Site", "clinic_id", None, Perm.CLINICAL_VIEW, None, ("clinic",)),
        Kind("screening run", "screening.ScreeningRun", "patient__clinic_id", "patient", Perm.CLINICAL_VIEW,
             AuditAction.SCREENING_RUN_VIEW, ("patient",)),
        Kind("assessment", "assessments.Assessment", "clinic_id", "patient", Perm.CLINICAL_VIEW,
             AuditAction.ASSESSMENT_VIEW, ("patient",)),
        Kind("lot", "ledger.Lot", "product__clinic_id", None, Perm.LEDGER_VIEW, AuditAction.LEDGER_LOT_VIEW, ("product",)),
        Kind("storage location", "ledger.StorageLocation", "site__clinic_id", None, Perm.LEDGER_VIEW,
             AuditAction.LEDGER_LOCATION_VIEW, ("site", "site__clinic")),
        Kind("ledger entry", "ledger.LedgerEntry", "clinic_id", None, Perm.LEDGER_VIEW, AuditAction.LEDGER_ENTRY_VIEW),
        Kind("case", "ledger.Case", "clinic_id", None, Perm.LEDGER_VIEW, AuditAction.LEDGER_CASE_VIEW,
             ("product", "lot", "location", "opening_entry")),
        Kind("care plan", "careplan.CarePlan", "clinic_id", "patient", Perm.CLINICAL_VIEW, AuditAction.CAREPLAN_VIEW,
             ("course", "created_by", "patient")),
    )
}  # fmt: skip


def _path(obj: Any, path: str) -> Any:
    """The value at a dotted attribute path (every link of the kinds' paths is a required relation)."""
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _access(
    kind: Kind,
    user: Any,
    pk: Any,
    *,
    clinic: Clinic | int | None,
    perm: Perm | None,
    request: HttpRequest | None,
    audit_action: AuditAction | None,
    for_update: bool,
    extra: dict[str, Any] | None = None,
) -> Any:
    model: type[Model] = apps.get_model(kind.model)
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise NotFoundError(f"no such {kind.noun}") from None
    ids = user_clinic_ids(user)
    if clinic is not None:
        wanted = clinic if isinstance(clinic, int) else clinic.pk
        ids = [c for c in ids if c == wanted]
    qs = model._default_manager.select_related(*kind.related)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    obj = qs.filter(pk=key, **{f"{kind.clinic}__in": ids}, **(extra or {})).first()
    if obj is None:
        raise NotFoundError(f"no such {kind.noun}")
    clinic_id = _path(obj, kind.clinic.replace("__", "."))
    need = perm or kind.perm
    if not has_perm_in_clinic(user, clinic_id, need):
        raise _deny(need)
    if audit_action:
        patient = _path(obj, kind.patient) if kind.patient else None
        with transaction.atomic():
            record_audit(
                actor=user, action=audit_action, obj=obj, clinic=clinic_id, patient=patient, request=request
            )
    return obj


class _Default:
    """The caller did not choose an audit action: the kind's own is recorded."""


_DEFAULT: Any = _Default()


def _make(noun: str, name: str) -> Any:
    kind = KINDS[noun]

    def access(
        user: Any,
        pk: Any,
        *,
        clinic: Clinic | int | None = None,
        perm: Perm | None = None,
        request: HttpRequest | None = None,
        audit_action: AuditAction | None = _DEFAULT,
        for_update: bool = False,
        **extra: Any,
    ) -> Any:
        action = kind.audit_action if audit_action is _DEFAULT else audit_action
        return _access(
            kind, user, pk, clinic=clinic, perm=perm, request=request, audit_action=action,
            for_update=for_update, extra=extra,
        )  # fmt: skip

    access.__name__ = access.__qualname__ = name
    access.__doc__ = (
        f"The {noun} with this id if it belongs to one of the user's clinics (to `clinic`, when given) and the "
        f"user's role there grants `perm` (default {kind.perm.value}); the read is audited as "
        f"{kind.audit_action or 'nothing (the caller audits)'} unless `audit_action` says otherwise. Extra "
        "keyword arguments narrow the lookup (e.g. patient=patient); a record they exclude is not found."
    )
    return access


access_session_by_id = _make("session", "access_session_by_id")
access_course_by_id = _make("course", "access_course_by_id")
access_order_by_id = _make("order", "access_order_by_id")
access_rems_form_by_id = _make("REMS form", "access_rems_form_by_id")
access_alert_by_id = _make("alert", "access_alert_by_id")
access_device_by_id = _make("device", "access_device_by_id")
access_site_by_id = _make("site", "access_site_by_id")
access_screening_run_by_id = _make("screening run", "access_screening_run_by_id")
access_assessment_by_id = _make("assessment", "access_assessment_by_id")
access_lot_by_id = _make("lot", "access_lot_by_id")
access_location_by_id = _make("storage location", "access_location_by_id")
access_ledger_entry_by_id = _make("ledger entry", "access_ledger_entry_by_id")
access_case_by_id = _make("case", "access_case_by_id")
access_care_plan_by_id = _make("care plan", "access_care_plan_by_id")


def access_psychotherapy_note_by_id(user: Any, note_id: int, *, request: HttpRequest | None = None) -> Any:
    """A psychotherapy note, only for its author or a colleague the author shared it with (45 CFR 164.501, 164.508).

    Anyone else, whatever their role, gets NotFoundError: the note's existence is not disclosed. The read is audited.
    """
    note_model = apps.get_model("therapy.PsychotherapyNote")
    note = (
        note_model._default_manager.select_related("patient", "patient__clinic", "session", "author")
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
