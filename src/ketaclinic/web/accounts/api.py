"""Staff endpoints under /api/v1/staff/: invitations, role grants and approvals, deactivation, resets, tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from ninja import Field, Router, Schema, Status

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_clinic_by_id, user_clinic_ids
from ketaclinic.web.accounts import actions, staff
from ketaclinic.web.accounts.models import Membership, User
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.api_errors import PASSWORD_WRITE_ERRORS, READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed

router = Router(tags=["staff"])


class GrantOut(Schema):
    id: int
    role: str
    state: str = Field(..., description="active, pending (waiting for approval or cooling-off) or revoked")
    granted_by: str | None
    approved_by: str | None
    effective_from: dt.datetime | None


class StaffOut(Schema):
    id: int
    username: str
    display_name: str
    is_active: bool
    locked: bool
    grants: list[GrantOut]


class InviteIn(Schema):
    clinic_id: int | None = Field(None, description="Required when you belong to more than one clinic.")
    username: str = Field(..., max_length=150)
    roles: list[str]
    display_name: str = Field("", max_length=150)
    email: str = Field("", max_length=254)


class LinkOut(Schema):
    user_id: int
    set_password_token: str = Field(
        ..., description="Shown once: the person opens /accounts/set-password/<token>/"
    )


class GrantIn(Schema):
    clinic_id: int | None = None
    role: str


class ClinicIn(Schema):
    clinic_id: int | None = None


class CountOut(Schema):
    revoked: int


class PasswordIn(Schema):
    current_password: str = Field(..., max_length=1000)
    password: str = Field(..., max_length=1000)
    password2: str = Field(..., max_length=1000)


class TokenIn(Schema):
    name: str = Field(..., max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    token: str = Field(..., description="Shown once.")


class OkOut(Schema):
    ok: bool


def _clinic(request: SignedInRequest, clinic_id: int | None) -> Any:
    if clinic_id is None:
        ids = user_clinic_ids(request.user)
        if len(ids) != 1:
            raise ValidationFailed({"clinic_id": ["is required when you belong to more than one clinic"]})
        clinic_id = ids[0]
    return access_clinic_by_id(request.user, clinic_id)


def _grant_out(m: Membership, now: dt.datetime) -> dict[str, Any]:
    state = "revoked" if not m.is_active else ("active" if m.is_effective(now) else "pending")
    return {
        "id": m.pk,
        "role": m.role,
        "state": state,
        "granted_by": m.granted_by.username if m.granted_by else None,
        "approved_by": m.approved_by.username if m.approved_by else None,
        "effective_from": m.effective_from,
    }


@router.get("/", response={200: list[StaffOut], **READ_ERRORS})
def list_staff(
    request: SignedInRequest, clinic_id: int | None = None, limit: int = 50, offset: int = 0
) -> Any:
    """Staff of the clinic with their role grants (clinic admins)."""
    if not 1 <= limit <= 200:
        raise ValidationFailed({"limit": ["must be between 1 and 200"]})
    if not 0 <= offset <= 1_000_000:
        raise ValidationFailed({"offset": ["must be between 0 and 1000000"]})
    clinic = _clinic(request, clinic_id)
    access_clinic_by_id(request.user, clinic.pk, perm=Perm.CLINIC_ADMIN)
    from django.utils import timezone

    now = timezone.now()
    users = list(
        User.objects.filter(memberships__clinic=clinic)
        .distinct()
        .order_by("username")[offset : offset + limit]
    )
    grants: dict[int, list[Membership]] = {}
    for m in Membership.objects.filter(clinic=clinic, user__in=users).select_related(
        "granted_by", "approved_by"
    ):
        grants.setdefault(m.user_id, []).append(m)
    with transaction.atomic():
        record_audit(actor=request.user, action=AuditAction.STAFF_LIST, clinic=clinic, request=request)
    return [
        {
            "id": u.pk,
            "username": u.username,
            "display_name": u.display_name,
            "is_active": u.is_active,
            "locked": bool(u.locked_until and u.locked_until > now),
            "grants": [_grant_out(m, now) for m in sorted(grants.get(u.pk, []), key=lambda m: m.pk)],
        }
        for u in users
    ]


@router.post("/invite", response={201: LinkOut, **WRITE_ERRORS})
def invite(request: SignedInRequest, payload: InviteIn) -> Any:
    """Invite a person: the account has no password until they set one through the one-time link."""
    clinic = _clinic(request, payload.clinic_id)
    user, raw = staff.do_invite_user(
        actor=request.user,
        clinic=clinic,
        username=payload.username,
        roles=payload.roles,
        display_name=payload.display_name,
        email=payload.email,
        request=request,
    )
    return Status(201, {"user_id": user.pk, "set_password_token": raw})


@router.post("/me/password", response={200: OkOut, **PASSWORD_WRITE_ERRORS})
def change_own_password(request: SignedInRequest, payload: PasswordIn) -> Any:
    staff.do_change_own_password(
        actor=request.user,
        current=payload.current_password,
        password=payload.password,
        password2=payload.password2,
        request=request,
    )
    return {"ok": True}


@router.post("/me/tokens", response={201: TokenOut, **WRITE_ERRORS})
def create_token(request: SignedInRequest, payload: TokenIn) -> Any:
    token, raw = actions.do_create_api_token(actor=request.user, name=payload.name, request=request)
    return Status(
        201,
        {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "token": raw,
        },
    )


@router.post("/{user_id}/roles", response={201: GrantOut, **WRITE_ERRORS})
def grant_role(request: SignedInRequest, user_id: int, payload: GrantIn) -> Any:
    from django.utils import timezone

    clinic = _clinic(request, payload.clinic_id)
    m = staff.do_grant_role(
        actor=request.user, clinic=clinic, user_id=user_id, role=payload.role, request=request
    )
    return Status(201, _grant_out(m, timezone.now()))


@router.post("/grants/{membership_id}/approve", response={200: GrantOut, **WRITE_ERRORS})
def approve_grant(request: SignedInRequest, membership_id: int, payload: ClinicIn) -> Any:
    from django.utils import timezone

    clinic = _clinic(request, payload.clinic_id)
    m = staff.do_approve_grant(
        actor=request.user, clinic=clinic, membership_id=membership_id, request=request
    )
    return _grant_out(m, timezone.now())


@router.post("/grants/{membership_id}/revoke", response={200: GrantOut, **WRITE_ERRORS})
def revoke_grant(request: SignedInRequest, membership_id: int, payload: ClinicIn) -> Any:
    from django.utils import timezone

    clinic = _clinic(request, payload.clinic_id)
    m = staff.do_revoke_role(actor=request.user, clinic=clinic, membership_id=membership_id, request=request)
    return _grant_out(m, timezone.now())


@router.post("/{user_id}/deactivate", response={200: OkOut, **WRITE_ERRORS})
def deactivate(request: SignedInRequest, user_id: int, payload: ClinicIn) -> Any:
    clinic = _clinic(request, payload.clinic_id)
    staff.do_deactivate_user(actor=request.user, clinic=clinic, user_id=user_id, request=request)
    return {"ok": True}


@router.post("/{user_id}/reactivate", response={200: OkOut, **WRITE_ERRORS})
def reactivate(request: SignedInRequest, user_id: int, payload: ClinicIn) -> Any:
    clinic = _clinic(request, payload.clinic_id)
    staff.do_reactivate_user(actor=request.user, clinic=clinic, user_id=user_id, request=request)
    return {"ok": True}


@router.post("/{user_id}/reset-password", response={200: LinkOut, **WRITE_ERRORS})
def reset_password(request: SignedInRequest, user_id: int, payload: ClinicIn) -> Any:
    """Force a password reset: the password stops working and a one-time set-password link is issued."""
    clinic = _clinic(request, payload.clinic_id)
    user, raw = staff.do_force_password_reset(
        actor=request.user, clinic=clinic, user_id=user_id, request=request
    )
    return {"user_id": user.pk, "set_password_token": raw}


@router.post("/{user_id}/revoke-tokens", response={200: CountOut, **WRITE_ERRORS})
def revoke_tokens(request: SignedInRequest, user_id: int, payload: ClinicIn) -> Any:
    clinic = _clinic(request, payload.clinic_id)
    n = staff.do_revoke_user_tokens(actor=request.user, clinic=clinic, user_id=user_id, request=request)
    return {"revoked": n}
