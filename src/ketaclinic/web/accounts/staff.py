"""Writes of the staff lifecycle: invitations, role grants and their approval, deactivation, password resets,
API tokens of other users. Every write is audited in its own transaction.

Separation of duties: an admin invites a person (never types their password: the invitee sets it through a
one-time, expiring link) and grants roles; a grant of a role that can move or witness controlled stock, or
of the admin role itself, takes effect only after a second admin or the clinic's registrant approves it, or
after the clinic's cooling-off period. `actor=None` is the operator at the server's command line, who is
trusted (they hold the database) and whose grants need no approval.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.models import ApiToken, Membership, SetPasswordToken, User
from ketaclinic.web.accounts.roles import APPROVAL_ROLES, Perm, Role, has_perm_in_clinic, require_perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.lib.live import close_sockets, user_group

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.clinics.models import Clinic

OPERATOR = "operator (command line)"


def _require_admin(actor: User, clinic: Clinic) -> None:
    if actor is not None:
        require_perm(actor, clinic, Perm.CLINIC_ADMIN)


def _audit_actor(actor: User) -> Any:
    return actor if actor is not None else OPERATOR


def _member_of(clinic: Clinic, user_id: Any) -> User:
    """A user with a membership (any state) in `clinic`; other clinics' users and missing ones alike: 404."""
    try:
        pk = int(str(user_id).strip())
    except (TypeError, ValueError):
        raise NotFoundError("no such staff member") from None
    user = User.objects.filter(pk=pk, memberships__clinic=clinic).distinct().first()
    if user is None:
        raise NotFoundError("no such staff member")
    return user


def _check_roles(roles: list[str], errors: dict[str, list[str]]) -> list[str]:
    valid = {r.value for r in Role}
    bad = [r for r in roles if r not in valid]
    if bad:
        errors["roles"] = [f"unknown role {r!r}" for r in bad]
    elif not roles:
        errors["roles"] = ["at least one role is required"]
    return sorted(set(roles))


def _set_password_token(*, actor: User, user: User, purpose: str) -> str:
    """Make a one-time link token (call inside the transaction); earlier unused tokens of the user expire now."""
    now = timezone.now()
    SetPasswordToken.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    raw = SetPasswordToken.new_raw()
    SetPasswordToken.objects.create(
        user=user,
        purpose=purpose,
        digest=ApiToken.digest_of(raw),
        created_by=actor,
        expires_at=now + dt.timedelta(hours=int(settings.KETACLINIC_SET_PASSWORD_HOURS)),
    )
    return raw


def _grant(*, actor: User, clinic: Clinic, user: User, role: str, request: HttpRequest | None) -> Membership:
    """Create or re-activate a membership; approval-needing roles granted by an admin start pending."""
    now = timezone.now()
    needs_approval = actor is not None and Role(role) in APPROVAL_ROLES
    hours = int(clinic.grant_cooling_off_hours)
    m, created = Membership.objects.get_or_create(user=user, clinic=clinic, role=role)
    if not created and m.is_active:
        state = "holds" if m.is_effective(now) else "was already granted (waiting for approval)"
        raise ConflictError(
            f"{user.username} {state} the role {Role(role).label}", fields={"role": ["already granted"]}
        )
    m.is_active = True
    m.deactivated_at = None
    m.granted_by = actor
    m.approval_required = needs_approval
    m.approved_by = None
    m.approved_at = None
    m.effective_from = now + dt.timedelta(hours=hours) if needs_approval and hours > 0 else None
    m.save()
    record_audit(
        actor=_audit_actor(actor),
        action=AuditAction.MEMBERSHIP_GRANT,
        obj=m,
        clinic=clinic,
        request=request,
        detail={
            "user": user.username,
            "role": role,
            "pending_approval": needs_approval,
            "effective_from": m.effective_from.isoformat() if m.effective_from else None,
        },
    )
    return m


def do_invite_user(
    *,
    actor: User,
    clinic: Clinic,
    username: str,
    roles: list[str],
    display_name: str = "",
    email: str = "",
    professional_id: str = "",
    request: HttpRequest | None = None,
) -> tuple[User, str]:
    """Create an account without a password and return it with its one-time set-password token.

    The person opens /accounts/set-password/<token>/ and chooses their own password; until then the account
    cannot sign in. Roles needing approval start pending.
    """
    _require_admin(actor, clinic)
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = ["is required"]
    elif len(username) > 150 or "\x00" in username:
        errors["username"] = ["at most 150 characters, no control characters"]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [f"{username!r} is already taken"]
    clean_roles = _check_roles(list(roles), errors)
    if len(display_name) > 150:
        errors["display_name"] = ["at most 150 characters"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        user = User(
            username=username,
            email=(email or "").strip(),
            display_name=(display_name or "").strip(),
            professional_id=(professional_id or "").strip()[:64],
        )
        user.set_unusable_password()
        user.save()
        for role in clean_roles:
            _grant(actor=actor, clinic=clinic, user=user, role=role, request=request)
        raw = _set_password_token(actor=actor, user=user, purpose=SetPasswordToken.Purpose.INVITE)
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.USER_INVITE,
            obj=user,
            clinic=clinic,
            request=request,
            detail={"roles": clean_roles},
        )
    return user, raw


def do_grant_role(
    *, actor: User, clinic: Clinic, user_id: Any, role: str, request: HttpRequest | None = None
) -> Membership:
    _require_admin(actor, clinic)
    user = _member_of(clinic, user_id)
    errors: dict[str, list[str]] = {}
    (clean,) = _check_roles([role], errors) or [""]
    if errors:
        raise ValidationFailed({"role": errors["roles"]})
    with transaction.atomic():
        return _grant(actor=actor, clinic=clinic, user=user, role=clean, request=request)


def _membership_for_update(clinic: Clinic, membership_id: Any) -> Membership:
    """The clinic's membership `membership_id`, row-locked for this transaction; another clinic's is not found."""
    m = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(pk=_int(membership_id, "membership"), clinic=clinic)
        .first()
    )
    if m is None:
        raise NotFoundError("no such role grant")
    return m


def do_approve_grant(
    *, actor: User, clinic: Clinic, membership_id: Any, request: HttpRequest | None = None
) -> Membership:
    """A second admin (not the one who granted it, not the grantee) or the clinic's registrant approves."""
    is_registrant = actor is not None and clinic.registrant_id == actor.pk
    if actor is not None and not is_registrant and not has_perm_in_clinic(actor, clinic, Perm.CLINIC_ADMIN):
        raise PermissionDeniedError("only a clinic admin or the clinic's registrant may approve a role grant")
    with transaction.atomic():
        m = _membership_for_update(clinic, membership_id)
        if not m.is_active or not m.approval_required or m.approved_at is not None:
            raise ConflictError(
                "this role grant is not waiting for approval", fields={"membership": ["not pending"]}
            )
        if actor is not None and actor.pk == m.granted_by_id:
            raise PermissionDeniedError(
                "a role grant must be approved by someone other than the admin who made it"
            )
        if actor is not None and actor.pk == m.user_id:
            raise PermissionDeniedError("you cannot approve a role grant to yourself")
        m.approved_by = actor
        m.approved_at = timezone.now()
        m.save(update_fields=["approved_by", "approved_at"])
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.MEMBERSHIP_APPROVE,
            obj=m,
            clinic=clinic,
            request=request,
            detail={
                "user": m.user.username,
                "role": m.role,
                "as": "registrant" if is_registrant else "admin",
            },
        )
    return m


def do_revoke_role(
    *, actor: User, clinic: Clinic, membership_id: Any, request: HttpRequest | None = None
) -> Membership:
    """Deactivate one membership (a role in this clinic); pending grants are withdrawn the same way."""
    _require_admin(actor, clinic)
    with transaction.atomic():
        m = _membership_for_update(clinic, membership_id)
        if not m.is_active:
            raise ConflictError("this role is already revoked", fields={"membership": ["already revoked"]})
        m.is_active = False
        m.deactivated_at = timezone.now()
        m.save(update_fields=["is_active", "deactivated_at"])
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.MEMBERSHIP_REVOKE,
            obj=m,
            clinic=clinic,
            request=request,
            detail={"user": m.user.username, "role": m.role},
        )
        close_sockets(user_group(m.user_id), "access changed")
    return m


def _admin_of_every_clinic(actor: User, user: User) -> None:
    """Account-wide changes (deactivate, reset) need the actor to administer every clinic the account is in."""
    if actor is None:
        return
    clinic_ids = set(Membership.objects.filter(user=user, is_active=True).values_list("clinic_id", flat=True))
    if not all(has_perm_in_clinic(actor, c, Perm.CLINIC_ADMIN) for c in clinic_ids):
        raise PermissionDeniedError(
            "this account also works in clinics you do not administer: revoke its roles here instead"
        )


def do_deactivate_user(
    *, actor: User, clinic: Clinic, user_id: Any, request: HttpRequest | None = None
) -> User:
    """Deactivate an account: it can no longer sign in, its sessions end, its tokens stop working."""
    _require_admin(actor, clinic)
    user = _member_of(clinic, user_id)
    if actor is not None and user.pk == actor.pk:
        raise ValidationFailed({"user": ["you cannot deactivate your own account"]})
    _admin_of_every_clinic(actor, user)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.USER_DEACTIVATE,
            obj=user,
            clinic=clinic,
            request=request,
            detail={"tokens_revoked": revoked},
        )
        close_sockets(user_group(user.pk), "access changed")
    user.refresh_from_db()
    return user


def do_reactivate_user(
    *, actor: User, clinic: Clinic, user_id: Any, request: HttpRequest | None = None
) -> User:
    _require_admin(actor, clinic)
    user = _member_of(clinic, user_id)
    _admin_of_every_clinic(actor, user)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=True, failed_login_count=0, locked_until=None)
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.USER_REACTIVATE,
            obj=user,
            clinic=clinic,
            request=request,
        )
    user.refresh_from_db()
    return user


def do_force_password_reset(
    *, actor: User, clinic: Clinic, user_id: Any, request: HttpRequest | None = None
) -> tuple[User, str]:
    """Invalidate the password (ending every session of the account) and issue a one-time set-password link."""
    _require_admin(actor, clinic)
    user = _member_of(clinic, user_id)
    _admin_of_every_clinic(actor, user)
    with transaction.atomic():
        user.set_unusable_password()
        user.save(update_fields=["password"])
        raw = _set_password_token(actor=actor, user=user, purpose=SetPasswordToken.Purpose.RESET)
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.USER_PASSWORD_RESET_FORCED,
            obj=user,
            clinic=clinic,
            request=request,
        )
        close_sockets(user_group(user.pk), "access changed")
    return user, raw


def do_revoke_user_tokens(
    *, actor: User, clinic: Clinic, user_id: Any, request: HttpRequest | None = None
) -> int:
    """Revoke every live API token of another user (a clinic admin's action); returns how many."""
    _require_admin(actor, clinic)
    user = _member_of(clinic, user_id)
    _admin_of_every_clinic(actor, user)
    with transaction.atomic():
        ids = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True).values_list("pk", flat=True))
        ApiToken.objects.filter(pk__in=ids).update(revoked_at=timezone.now(), revoked_by=actor)
        record_audit(
            actor=_audit_actor(actor),
            action=AuditAction.API_TOKEN_REVOKE_ALL,
            obj=user,
            clinic=clinic,
            request=request,
            detail={"tokens": ids},
        )
    return len(ids)


def set_password_token_user(raw: str) -> SetPasswordToken | None:
    """The live (unused, unexpired) token row for `raw`, or None."""
    if not raw or len(raw) > 200:
        return None
    return (
        SetPasswordToken.objects.select_related("user")
        .filter(digest=ApiToken.digest_of(raw), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def do_set_password_with_token(
    *, raw: str, password: str, password2: str, request: HttpRequest | None = None
) -> User:
    """Use a one-time link: the person chooses their own password. The link cannot be used again."""
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        row = set_password_token_user(raw)
        if row is None:
            raise NotFoundError("this link is not valid: it was used, replaced or has expired")
        row = SetPasswordToken.objects.select_for_update().select_related("user").get(pk=row.pk)
        if row.used_at is not None:
            raise NotFoundError("this link is not valid: it was used, replaced or has expired")
        user = row.user
        if password != password2:
            errors["password2"] = ["the two passwords differ"]
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            errors["password"] = [str(m) for m in exc.messages]
        if not user.is_active:
            errors["password"] = ["this account is deactivated"]
        if errors:
            raise ValidationFailed(errors)
        user.set_password(password)
        user.failed_login_count, user.locked_until = 0, None
        user.save(update_fields=["password", "failed_login_count", "locked_until"])
        row.used_at = timezone.now()
        row.save(update_fields=["used_at"])
        clinic_ids: list[int | None] = [*sorted(set(user.memberships.values_list("clinic_id", flat=True)))]
        for clinic_id in clinic_ids or [None]:
            record_audit(
                actor=user,
                action=AuditAction.USER_PASSWORD_SET,
                obj=user,
                clinic=clinic_id,
                request=request,
                detail={"purpose": row.purpose},
            )
    return user


def do_change_own_password(
    *, actor: User, current: str, password: str, password2: str, request: HttpRequest | None = None
) -> User:
    """Change one's own password; the current password goes through the sign-in path (counted, audited)."""
    from ketaclinic.web.accounts import authn
    from ketaclinic.web.accounts.throttle import check_auth_rate
    from ketaclinic.web.lib.audit import client_ip

    check_auth_rate(kind="sign_in", address=client_ip(request), username=actor.get_username())
    outcome, _ = authn.check_password(
        username=actor.get_username(),
        password=current or "",
        request=request,
        user=actor,
        audit_success=False,
    )
    if outcome is not authn.Outcome.OK:
        raise ValidationFailed({"current_password": ["is not correct"]})
    errors: dict[str, list[str]] = {}
    if password != password2:
        errors["password2"] = ["the two passwords differ"]
    try:
        validate_password(password, actor)
    except DjangoValidationError as exc:
        errors["password"] = [str(m) for m in exc.messages]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        actor.set_password(password)
        actor.save(update_fields=["password"])
        clinic_ids: list[int | None] = [*sorted(set(actor.memberships.values_list("clinic_id", flat=True)))]
        for clinic_id in clinic_ids or [None]:
            record_audit(
                actor=actor,
                action=AuditAction.USER_PASSWORD_CHANGE,
                obj=actor,
                clinic=clinic_id,
                request=request,
            )
    return actor


def _int(value: Any, field: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationFailed({field: ["must be a whole number"]}) from None


def pending_grants(clinic: Clinic) -> list[Membership]:
    """Role grants of the clinic waiting for approval (their cooling-off not yet over)."""
    now = timezone.now()
    rows = (
        Membership.objects.select_related("user", "granted_by")
        .filter(clinic=clinic, is_active=True, approval_required=True, approved_at__isnull=True)
        .order_by("created_at", "pk")
    )
    return [m for m in rows if not m.is_effective(now)]
