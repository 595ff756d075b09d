"""Record audit events: who did what to which object, when and from where. Call inside the action's transaction."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from django.db import models

from ketaclinic.core.audit.events import AuditAction

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.audit.models import AuditEvent


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    from django.conf import settings

    return [
        ipaddress.ip_network(p, strict=False) for p in getattr(settings, "KETACLINIC_TRUSTED_PROXIES", [])
    ]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or, only when that is a proxy listed in KETACLINIC_TRUSTED_PROXIES,
    the right-most address of X-Forwarded-For that is not itself a trusted proxy (a client can prepend anything
    to the header, so the left-most entry is never trusted)."""
    if request is None:
        return None
    remote = _ip(str(request.META.get("REMOTE_ADDR") or ""))
    if remote is None:
        return None
    proxies = _trusted_proxies()
    if not proxies or not any(remote in net for net in proxies):
        return str(remote)
    hops = [h for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _ip(hop)
        if addr is None:
            break  # a malformed hop: stop at the last address we can vouch for
        if not any(addr in net for net in proxies):
            return str(addr)
        remote = addr
    return str(remote)


def record_audit(
    *,
    actor: Any,
    action: AuditAction | str,
    obj: models.Model | None = None,
    clinic: Any = None,
    patient: Any = None,
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one audit event. `action` is a member of the audit vocabulary (`AuditAction.COURSE_START`); the row
    stores its string ("course.start"). A string is accepted for actions built from data (`f"session.{to}"`) and
    is stored as given; the vocabulary test checks every string an action can build is a member.

    Must be called inside the same transaction as the write it describes, so both commit or neither does.
    """
    from ketaclinic.web.audit.models import AuditEvent

    if patient is None and obj is not None and obj.__class__.__name__ == "Patient":
        patient = obj
    # The clinic's id is enough for the row: take it from a foreign key column rather than loading the clinic.
    if clinic is None and patient is not None:
        clinic = patient.clinic_id
    if clinic is None and obj is not None:
        clinic = getattr(obj, "clinic_id", None)
        if clinic is None:
            clinic = getattr(obj, "clinic", None)
    clinic_kw = {"clinic_id": clinic} if isinstance(clinic, int) else {"clinic": clinic}
    user = actor if getattr(actor, "is_authenticated", False) else None
    from django.db import transaction

    from ketaclinic.web.audit.chain import seal_after_commit

    # Seal into the hash chain once committed (at most one pending hook per transaction).
    conn = transaction.get_connection()
    if not any(getattr(cb[1], "__name__", "") == "seal_after_commit" for cb in conn.run_on_commit):
        transaction.on_commit(seal_after_commit)
    return AuditEvent.objects.create(
        actor=user,
        actor_label=(user.get_username() if user is not None else str(actor or "anonymous"))[:150],
        action=action.value if isinstance(action, AuditAction) else action,
        object_type=(obj._meta.label_lower if obj is not None else ""),
        object_id=(str(obj.pk) if obj is not None and obj.pk is not None else ""),
        object_repr=(str(obj)[:200] if obj is not None else ""),
        **clinic_kw,
        patient=patient,
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        request_path=(request.path[:300] if request is not None else ""),
        detail=detail or {},
    )


def record_denied(request: HttpRequest, exc: Exception) -> None:
    """Audit a refused attempt (permission denied), attributed to the clinic the user is working in."""
    from django.db import transaction

    from ketaclinic.web.lib.request import clinic_for_request

    user = getattr(request, "user", None)
    try:
        clinic = clinic_for_request(request) if user is not None and user.is_authenticated else None
    except Exception:  # the active clinic cannot be resolved: still audit the refusal
        clinic = None
    with transaction.atomic():
        record_audit(
            actor=user,
            action=AuditAction.ACCESS_DENIED,
            clinic=clinic,
            request=request,
            detail={"method": request.method, "reason": str(getattr(exc, "message", exc))[:300]},
        )
