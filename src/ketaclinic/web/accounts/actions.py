"""Writes of the accounts domain: users, memberships, API tokens, sign-in events."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.authn import account_clinic_ids
from ketaclinic.web.accounts.models import ApiToken, Membership, User
from ketaclinic.web.accounts.roles import Perm, Role, require_perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed
from ketaclinic.web.lib.live import close_sockets, user_group

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Clinic


def do_create_user(
    *,
    actor: User | str,
    username: str,
    password: str,
    clinic: Clinic,
    roles: list[str],
    display_name: str = "",
    email: str = "",
    professional_id: str = "",
    check_actor: bool = True,
) -> User:
    """Create a staff user with roles in `clinic`. `check_actor=False` only for the CLI and demo seeding, whose
    `actor` is a label naming the command (the audit row records it as the actor's name)."""
    if check_actor:
        require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    errors: dict[str, list[str]] = {}
    username = username.strip()
    if not username:
        errors["username"] = ["is required"]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [f"{username!r} is already taken"]
    bad_roles = [r for r in roles if r not in {x.value for x in Role}]
    if bad_roles or not roles:
        errors["roles"] = [f"unknown role {r!r}" for r in bad_roles] or ["at least one role is required"]
    try:
        validate_password(password, User(username=username, email=email))
    except DjangoValidationError as exc:
        errors["password"] = [str(m) for m in exc.messages]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        user = User(
            username=username, email=email, display_name=display_name, professional_id=professional_id
        )
        user.set_password(password)
        user.save()
        for role in roles:
            Membership.objects.create(user=user, clinic=clinic, role=role)
        record_audit(
            actor=actor,
            action=AuditAction.USER_CREATE,
            obj=user,
            clinic=clinic,
            detail={"roles": sorted(roles)},
        )
    return user


def token_lifetime_days(user: User) -> int:
    """The shortest API-token lifetime among the clinics the user works in (default KETACLINIC_API_TOKEN_DAYS)."""
    from ketaclinic.web.clinics.models import Clinic

    days = list(
        Clinic.objects.filter(memberships__user=user, memberships__is_active=True).values_list(
            "api_token_days", flat=True
        )
    )
    return max(1, min([d for d in days if d] or [int(settings.KETACLINIC_API_TOKEN_DAYS)]))


def do_create_api_token(
    *, actor: User, name: str, request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """Create a bearer token for `actor`; returns the row and the raw token (shown once, never stored).

    The token expires after the clinic's lifetime (the admin's setting; 90 days unless changed).
    """
    if not name.strip():
        raise ValidationFailed({"name": ["is required"]})
    raw = ApiToken.new_raw()
    days = token_lifetime_days(actor)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor,
            name=name.strip()[:100],
            prefix=raw[3:11],
            digest=ApiToken.digest_of(raw),
            expires_at=timezone.now() + timedelta(days=days),
        )
        for clinic_id in account_clinic_ids(actor):
            record_audit(
                actor=actor,
                action=AuditAction.API_TOKEN_CREATE,
                obj=token,
                clinic=clinic_id,
                request=request,
                detail={"expires_at": token.expires_at.isoformat() if token.expires_at else None},
            )
    return token, raw


def do_revoke_api_token(*, actor: User, token_id: int) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
        if token is None:
            raise NotFoundError("no such token")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.revoked_by = actor
            token.save(update_fields=["revoked_at", "revoked_by"])
            for clinic_id in account_clinic_ids(actor):
                record_audit(actor=actor, action=AuditAction.API_TOKEN_REVOKE, obj=token, clinic=clinic_id)
    return token


def do_record_sign_in(*, user: User, request: HttpRequest) -> None:
    """Audit a successful sign-in once per clinic of the account, so each clinic's auditor sees it."""
    with transaction.atomic():
        for clinic_id in account_clinic_ids(user):
            record_audit(
                actor=user, action=AuditAction.AUTH_LOGIN, obj=user, clinic=clinic_id, request=request
            )


def do_record_sign_out(*, user: User, request: HttpRequest) -> None:
    """Audit the sign-out and close the user's live sockets."""
    with transaction.atomic():
        for clinic_id in account_clinic_ids(user):
            record_audit(
                actor=user, action=AuditAction.AUTH_LOGOUT, obj=user, clinic=clinic_id, request=request
            )
        close_sockets(user_group(user.pk), "signed out")
