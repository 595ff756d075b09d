"""Thin views: the live board per site, device management, alert acknowledgement (no-JS fallback)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import (
    access_alert_by_id,
    access_device_by_id,
    access_session_by_id,
    access_site_by_id,
    active_clinic,
)
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed
from ketaclinic.web.monitoring import actions, selectors
from ketaclinic.web.monitoring.models import Device, MonitoringAlert


@login_required
def board(request: SignedInRequest) -> HttpResponse:
    """Pick the site: straight to the board when the active clinic has one site."""
    clinic = active_clinic(request, Perm.CLINICAL_VIEW)
    sites = list(Site.objects.filter(clinic=clinic).order_by("name", "pk"))
    if len(sites) == 1:
        return redirect("monitoring:site_board", site_id=sites[0].pk)
    return render(request, "monitoring/sites.html", {"sites": sites})


@login_required
def site_board(request: SignedInRequest, site_id: int) -> HttpResponse:
    site = access_site_by_id(request.user, site_id)
    snapshot = selectors.board_snapshot(site)
    with transaction.atomic():
        record_audit(
            actor=request.user, action=AuditAction.MONITORING_BOARD_VIEW, obj=site, clinic=site.clinic, request=request,
            detail={"sessions": [s["id"] for s in snapshot["sessions"]]},
        )  # fmt: skip
    return render(
        request,
        "monitoring/board.html",
        {
            "site": site,
            "snapshot": snapshot,
            "ack_actions": MonitoringAlert.AckAction.choices,
            "can_manage_devices": has_perm_in_clinic(request.user, site.clinic_id, Perm.DEVICE_MANAGE),
        },
    )


@login_required
def devices(request: SignedInRequest, site_id: int) -> HttpResponse:
    site = access_site_by_id(request.user, site_id, perm=Perm.DEVICE_MANAGE)
    errors: dict[str, list[str]] = {}
    new_token = None
    if request.method == "POST":
        op = request.POST.get("op", "")
        try:
            if op == "register":
                device, new_token = actions.do_register_device(
                    actor=request.user, site=site, label=request.POST.get("label", ""),
                    serial=request.POST.get("serial", ""), kind=request.POST.get("kind", "wearable"),
                )  # fmt: skip
                messages.success(
                    request, f"Registered {device.label}. Copy its token now: it is not shown again."
                )
            else:
                try:
                    device = access_device_by_id(
                        request.user, request.POST.get("device"), site=site, audit_action=None
                    )
                except NotFoundError:
                    raise ValidationFailed({"device": ["choose a device of this site"]}) from None
                if op == "attach":
                    try:
                        session = access_session_by_id(
                            request.user, request.POST.get("session"), clinic=site.clinic_id,
                            perm=Perm.DEVICE_MANAGE, audit_action=None,
                        )  # fmt: skip
                    except NotFoundError:
                        raise ValidationFailed({"session": ["choose a session in progress"]}) from None
                    actions.do_attach_device(actor=request.user, device=device, session=session)
                    messages.success(request, f"{device.label} attached to session {session.pk}.")
                elif op == "detach":
                    actions.do_detach_device(
                        actor=request.user, device=device, reason=request.POST.get("reason", "")
                    )
                    messages.success(request, f"{device.label} detached.")
                elif op == "revoke":
                    actions.do_revoke_device(
                        actor=request.user, device=device, reason=request.POST.get("reason", "")
                    )
                    messages.success(request, f"{device.label} revoked; its token no longer works.")
                elif op == "rotate":
                    new_token = actions.do_rotate_device_token(actor=request.user, device=device)
                    messages.success(request, f"New token for {device.label}; the old one no longer works.")
                else:
                    raise ValidationFailed({"op": ["unknown operation"]})
            if new_token is None:
                return redirect("monitoring:devices", site_id=site.pk)
        except ValidationFailed as exc:
            errors = exc.fields
        except Exception as exc:  # DomainError subclasses: conflict, permission
            from ketaclinic.web.lib.errors import DomainError

            if not isinstance(exc, DomainError):
                raise
            errors = exc.fields or {"__all__": [exc.message]}
            if not exc.fields:
                errors = {"__all__": [exc.message]}
    rows = selectors.devices_for_site(site)
    with transaction.atomic():
        record_audit(
            actor=request.user, action=AuditAction.MONITORING_DEVICES_VIEW, obj=site, clinic=site.clinic, request=request,
            detail={"devices": [r["device"].pk for r in rows]},
        )  # fmt: skip
    return render(
        request,
        "monitoring/devices.html",
        {
            "site": site,
            "rows": rows,
            "sessions": list(selectors.sessions_on_board(site)),
            "errors": errors,
            "new_token": new_token,
            "kinds": Device.Kind.choices,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def acknowledge(request: SignedInRequest, alert_id: int) -> HttpResponse:
    alert = access_alert_by_id(request.user, alert_id, audit_action=None)  # the acknowledgement is audited
    try:
        actions.do_acknowledge_alert(
            actor=request.user,
            alert=alert,
            action=request.POST.get("action", ""),
            note=request.POST.get("note", ""),
        )
        messages.success(request, "Alert acknowledged.")
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    return redirect(reverse("monitoring:site_board", kwargs={"site_id": alert.site_id}))
