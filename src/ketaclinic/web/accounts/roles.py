"""Roles and their permissions: each role is a fixed set of permissions, checked per clinic."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"
    CLINIC_ADMIN = "clinic_admin"
    THERAPIST = "therapist"
    RESEARCHER = "researcher"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PRESCRIBER: "Prescriber",
    Role.NURSE: "Nurse / session monitor",
    Role.FRONT_DESK: "Front desk",
    Role.CUSTODIAN: "Controlled-substance custodian",
    Role.AUDITOR: "Auditor",
    Role.CLINIC_ADMIN: "Clinic admin",
    Role.THERAPIST: "Therapist",
    Role.RESEARCHER: "Researcher (de-identified outcomes only)",
}


class Perm(StrEnum):
    PATIENT_VIEW = "patient.view"
    # Clinical data (screening, scales, alerts, dosing, sessions, monitoring): not front desk or clinic admin.
    CLINICAL_VIEW = "clinical.view"
    PATIENT_EDIT = "patient.edit"
    ASSESSMENT_RECORD = "assessment.record"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    SCREENING_RECORD = "screening.record"
    SCREENING_DECIDE = "screening.decide"
    COURSE_MANAGE = "course.manage"
    ORDER_SIGN = "order.sign"
    SESSION_RUN = "session.run"
    DEVICE_MANAGE = "device.manage"
    STOCK_MOVE = "stock.move"
    LEDGER_VIEW = "ledger.view"
    AUDIT_VIEW = "audit.view"
    CLINIC_ADMIN = "clinic.admin"
    RESEARCH_VIEW = "research.view"
    TELEHEALTH_SCHEDULE = "telehealth.schedule"
    THERAPY_RECORD = "therapy.record"
    OUTCOMES_VIEW = "outcomes.view"


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.PRESCRIBER: frozenset(
        {
            Perm.PATIENT_VIEW,
            Perm.CLINICAL_VIEW,
            Perm.PATIENT_EDIT,
            Perm.ASSESSMENT_RECORD,
            Perm.ALERT_ACKNOWLEDGE,
            Perm.SCREENING_RECORD,
            Perm.SCREENING_DECIDE,
            Perm.COURSE_MANAGE,
            Perm.ORDER_SIGN,
            Perm.SESSION_RUN,
            Perm.STOCK_MOVE,
            Perm.LEDGER_VIEW,
            Perm.RESEARCH_VIEW,
            Perm.TELEHEALTH_SCHEDULE,
            Perm.THERAPY_RECORD,
            Perm.OUTCOMES_VIEW,
        }
    ),
    Role.NURSE: frozenset(
        {
            Perm.PATIENT_VIEW,
            Perm.CLINICAL_VIEW,
            Perm.PATIENT_EDIT,
            Perm.ASSESSMENT_RECORD,
            Perm.SCREENING_RECORD,
            Perm.SESSION_RUN,
            Perm.DEVICE_MANAGE,
            Perm.TELEHEALTH_SCHEDULE,
        }
    ),
    Role.FRONT_DESK: frozenset({Perm.PATIENT_VIEW, Perm.PATIENT_EDIT}),
    Role.CUSTODIAN: frozenset({Perm.STOCK_MOVE, Perm.LEDGER_VIEW}),
    # Auditors read everything and edit nothing.
    Role.AUDITOR: frozenset(
        {Perm.PATIENT_VIEW, Perm.CLINICAL_VIEW, Perm.LEDGER_VIEW, Perm.AUDIT_VIEW, Perm.OUTCOMES_VIEW}
    ),
    Role.CLINIC_ADMIN: frozenset(
        {Perm.CLINIC_ADMIN, Perm.AUDIT_VIEW, Perm.DEVICE_MANAGE, Perm.PATIENT_VIEW, Perm.OUTCOMES_VIEW}
    ),
    # Preparation, integration and psychotherapy sessions; psychotherapy notes stay with their author.
    Role.THERAPIST: frozenset(
        {Perm.PATIENT_VIEW, Perm.CLINICAL_VIEW, Perm.THERAPY_RECORD, Perm.TELEHEALTH_SCHEDULE}
    ),
    # Researchers see the clinic's de-identified cohort aggregates and nothing else: no chart, no identifiers.
    Role.RESEARCHER: frozenset({Perm.OUTCOMES_VIEW, Perm.RESEARCH_VIEW}),
}


# Roles whose grant by an admin needs a second admin's or the registrant's approval (or the clinic's cooling-off
# period): they can move or witness controlled stock, or (admins) approve such grants themselves.
APPROVAL_ROLES = frozenset({Role.PRESCRIBER, Role.NURSE, Role.CUSTODIAN, Role.CLINIC_ADMIN})


def perms_for_roles(roles: set[str]) -> frozenset[Perm]:
    out: set[Perm] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS.get(Role(role), frozenset())
    return frozenset(out)


def memberships_of(user: Any) -> dict[int, set[str]]:
    """{clinic_id: roles} of the user's active, effective memberships (approved or past their cooling-off); one query, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached: dict[int, set[str]] | None = user.__dict__.get("_kc_memberships")
    if cached is None:
        from ketaclinic.web.accounts.models import effective_membership_q

        cached = {}
        grants: dict[int, set[str]] = {}
        rows = user.memberships.filter(effective_membership_q()).values_list(
            "clinic_id", "role", "clinic__clinical_read_roles"
        )
        for clinic_id, role, granted in rows:
            cached.setdefault(clinic_id, set()).add(role)
            grants[clinic_id] = {g.strip() for g in (granted or "").split(",") if g.strip()}
        user.__dict__["_kc_clinical_grants"] = grants
        user.__dict__["_kc_memberships"] = cached
    return cached


def roles_in_clinic(user: Any, clinic: Clinic | int) -> set[str]:
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    return memberships_of(user).get(clinic_id, set())


def has_perm_in_clinic(user: Any, clinic: Clinic | int, perm: Perm) -> bool:
    roles = roles_in_clinic(user, clinic)
    if perm in perms_for_roles(roles):
        return True
    if perm is Perm.CLINICAL_VIEW:
        # A clinic may let roles without clinical reads (front desk, admin) read clinical data.
        clinic_id = clinic if isinstance(clinic, int) else clinic.pk
        return bool(roles & user.__dict__.get("_kc_clinical_grants", {}).get(clinic_id, set()))
    return False


def require_perm(user: Any, clinic: Clinic | int, perm: Perm) -> None:
    """Raise PermissionDeniedError unless `user` holds `perm` in `clinic`."""
    from ketaclinic.web.lib.errors import PermissionDeniedError

    if not has_perm_in_clinic(user, clinic, perm):
        raise PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")
