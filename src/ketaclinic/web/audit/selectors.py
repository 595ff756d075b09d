"""Reads of the audit trail, scoped to the auditor's clinics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.web.access import user_clinic_ids
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.audit.models import AuditEvent


def audit_event_list(
    *,
    user: Any,
    clinic_id: int | None = None,
    actor: str = "",
    action: str = "",
    patient_id: int | None = None,
    patient_mrn: str = "",
    object_type: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """Events of the clinics where `user` may view the audit trail, newest first, filtered."""
    clinics = [c for c in user_clinic_ids(user) if has_perm_in_clinic(user, c, Perm.AUDIT_VIEW)]
    if clinic_id is not None:
        clinics = [c for c in clinics if c == clinic_id]
    # Sign-in events for unknown usernames have no clinic; auditors of any clinic see those about their staff only.
    qs = AuditEvent.objects.filter(Q(clinic_id__in=clinics)).order_by("-at", "-pk")
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    if patient_mrn:
        qs = qs.filter(patient__mrn__iexact=patient_mrn, patient__clinic_id__in=clinics)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if since is not None:
        qs = qs.filter(at__date__gte=since)
    if until is not None:
        qs = qs.filter(at__date__lte=until)
    return qs


def audit_action_codes(*, user: Any, clinic_id: int) -> list[str]:
    """The distinct actions recorded in the clinic's trail, for the filter (empty unless `user` may view it)."""
    if not has_perm_in_clinic(user, clinic_id, Perm.AUDIT_VIEW):
        return []
    rows = AuditEvent.objects.filter(clinic_id=clinic_id).values_list("action", flat=True).distinct()
    return sorted(rows.order_by())


def audit_actor_names(*, user: Any, clinic_id: int) -> list[str]:
    """Usernames of the clinic's staff, offered in the filter's person field."""
    from ketaclinic.web.accounts.models import User

    if not has_perm_in_clinic(user, clinic_id, Perm.AUDIT_VIEW):
        return []
    return list(
        User.objects.filter(memberships__clinic_id=clinic_id)
        .order_by("username")
        .values_list("username", flat=True)
        .distinct()
    )
