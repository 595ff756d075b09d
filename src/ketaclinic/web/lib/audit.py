"""Record audit events: who did what to which object, when and from where. Call inside the action's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.audit.models import AuditEvent


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return str(forwarded.split(",")[0].strip()) or None
    ip = request.META.get("REMOTE_ADDR")
    return str(ip) if ip else None


def record_audit(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    clinic: Any = None,
    patient: Any = None,
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one audit event. `action` is "<domain>.<verb>", e.g. "patient.update" or "patient.view".

    Must be called inside the same transaction as the write it describes, so both commit or neither does.
    """
    from ketaclinic.web.audit.models import AuditEvent

    if patient is None and obj is not None and obj.__class__.__name__ == "Patient":
        patient = obj
    if clinic is None and patient is not None:
        clinic = patient.clinic
    if clinic is None and obj is not None:
        clinic = getattr(obj, "clinic", None)
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_label=(user.get_username() if user is not None else str(actor or "anonymous"))[:150],
        action=action,
        object_type=(obj._meta.label_lower if obj is not None else ""),
        object_id=(str(obj.pk) if obj is not None and obj.pk is not None else ""),
        object_repr=(str(obj)[:200] if obj is not None else ""),
        clinic=clinic,
        patient=patient,
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        request_path=(request.path[:300] if request is not None else ""),
        detail=detail or {},
    )
