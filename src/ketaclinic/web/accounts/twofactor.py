"""Two-factor sign-in: TOTP (RFC 6238) authenticator apps and single-use recovery codes.

Who needs it: every account with a role that prescribes, witnesses or moves controlled stock or administers a
clinic (prescriber, nurse, custodian, clinic admin: `APPROVAL_ROLES`), every member of a clinic that requires it
for all (`Clinic.require_two_factor_for_all`), and anyone who has enrolled. Outside production the synthetic
demo accounts (members of synthetic clinics only) are exempt (KETACLINIC_2FA_DEMO_EXEMPT); the sign-in page says
so. KETACLINIC_2FA_ENFORCE=0 stops requiring enrolment (an enrolled account still gives its code).

A code is checked in the time step it belongs to and the steps either side (clock drift); each accepted code
moves the device's `last_step`, so a code is accepted once: a replay within its step, or an older code, is
refused. Wrong codes go through the same rate limits (per address and per username) and the same lockout
counter as passwords. Enrolment, each use, each failure, each recovery code used and each reset are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts import authn
from ketaclinic.web.accounts.models import Membership, RecoveryCode, TotpDevice, User
from ketaclinic.web.accounts.roles import APPROVAL_ROLES
from ketaclinic.web.accounts.throttle import check_auth_rate
from ketaclinic.web.lib.audit import client_ip, record_audit
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.clinics.models import Clinic

STEP_S = 30
DIGITS = 6
RECOVERY_CODES = 10
ISSUER = "ketaclinic"


def _now() -> datetime:
    """The clock (tests replace it with a fixed one)."""
    return timezone.now()


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_S


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.strip().casefold() if ch not in " -")


def _audit(
    user: User,
    action: str,
    *,
    request: HttpRequest | None,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    with transaction.atomic():
        for clinic_id in authn.account_clinic_ids(user):
            record_audit(
                actor=actor,
                action=action,
                obj=user,
                clinic=clinic_id,
                detail={"username": user.username, **(detail or {})},
                request=request,
            )


# ---------- who needs it ----------


def confirmed_device(user: User) -> TotpDevice | None:
    return TotpDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()


def demo_exempt(user: User) -> bool:
    """A synthetic demo account (every clinic of the account is synthetic) while demo exemption is on."""
    if not settings.KETACLINIC_2FA_DEMO_EXEMPT:
        return False
    synthetic = list(
        Membership.objects.filter(user_id=user.pk).values_list("clinic__is_synthetic", flat=True)
    )
    return bool(synthetic) and all(synthetic)


def required_by_policy(user: User) -> bool:
    """The account's roles or clinics require a second factor (demo exemption and the off switch not applied)."""
    rows = Membership.objects.filter(user_id=user.pk, is_active=True).values_list(
        "role", "clinic__require_two_factor_for_all"
    )
    approval = {r.value for r in APPROVAL_ROLES}
    return any(role in approval or for_all for role, for_all in rows)


def needs_second_factor(user: User) -> bool:
    """Sign-in (and a witness signature) needs a code from this account."""
    if confirmed_device(user) is not None:
        return True
    return bool(settings.KETACLINIC_2FA_ENFORCE) and required_by_policy(user) and not demo_exempt(user)


# ---------- enrolment ----------


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: the secret as text, its otpauth URI and the URI as a QR code (SVG)."""

    secret: str
    uri: str
    qr_svg: str


def begin_enrolment(user: User) -> Enrolment:
    """The account's pending (unconfirmed) authenticator, made now if it has none. Refused once one is confirmed."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user_id=user.pk).first()
        if device is not None and device.confirmed_at is not None:
            raise ConflictError("two-factor sign-in is already set up for this account")
        if device is None:
            device = TotpDevice.objects.create(user=user, secret=pyotp.random_base32())
    uri = pyotp.TOTP(device.secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", svgclass="qr", title="QR code"
    )
    return Enrolment(secret=device.secret, uri=uri, qr_svg=qr)


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    now = _step(at)
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def do_confirm_enrolment(*, user: User, code: str, request: HttpRequest | None = None) -> list[str]:
    """Confirm the pending authenticator with a current code; returns the new recovery codes (shown once)."""
    check_auth_rate(kind="second_factor", address=client_ip(request), username=user.username)
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == DIGITS):
        raise ValidationFailed({"code": [f"enter the {DIGITS}-digit code your authenticator app shows"]})
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user_id=user.pk).first()
        if device is None or device.confirmed_at is not None:
            raise ConflictError("there is no pending authenticator to confirm; start again")
        step = _matching_step(device.secret, code, _now())
        if step is None:
            raise ValidationFailed({"code": ["that code is not the one your authenticator app shows now"]})
        device.confirmed_at, device.last_step = _now(), step
        device.save(update_fields=["confirmed_at", "last_step"])
        codes = _new_recovery_codes(user)
        _audit(user, AuditAction.AUTH_2FA_ENROLLED, request=request, actor=user)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user_id=user.pk).delete()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
        RecoveryCode.objects.create(user=user, digest=_digest(raw))
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user_id=user.pk, used_at__isnull=True).count()


# ---------- verification ----------


class Refused(ValidationFailed):
    """A second factor was refused; `reason` is "wrong", "replay" or "locked"."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__({field: [message]})
        self.reason = reason


def verify_second_factor(
    *,
    user: User,
    code: str,
    request: HttpRequest | None = None,
    purpose: str = "sign_in",
    field: str = "code",
) -> str:
    """Check a current authenticator code or an unused recovery code; returns "totp" or "recovery".

    Rate limited (429) per client address and per username; counts toward the account's lockout like a wrong
    password; raises Refused naming `field` otherwise. Every outcome is audited with `purpose`.
    """
    check_auth_rate(kind="second_factor", address=client_ip(request), username=user.username)
    now = _now()
    if not authn._reserve_attempt(user.pk, now):
        _audit(user, AuditAction.AUTH_2FA_REFUSED_LOCKED, request=request, detail={"purpose": purpose})
        raise Refused(
            field, "locked", "the account is locked after repeated failed attempts; try again later"
        )
    raw = code.strip().replace(" ", "")
    kind, reason = None, "wrong"
    with transaction.atomic():
        device = (
            TotpDevice.objects.select_for_update().filter(user_id=user.pk, confirmed_at__isnull=False).first()
        )
        if device is not None and raw.isascii() and raw.isdigit() and len(raw) == DIGITS:
            step = _matching_step(device.secret, raw, now)
            if step is not None and step <= device.last_step:
                reason = "replay"
            elif step is not None:
                TotpDevice.objects.filter(pk=device.pk).update(last_step=step)
                kind = "totp"
        elif device is not None and raw:
            row = (
                RecoveryCode.objects.select_for_update()
                .filter(user_id=user.pk, digest=_digest(_normalise_recovery(raw)), used_at__isnull=True)
                .first()
            )
            if row is not None:
                RecoveryCode.objects.filter(pk=row.pk).update(used_at=now)
                kind = "recovery"
    if kind is not None:
        User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
        action = AuditAction.AUTH_2FA_OK if kind == "totp" else AuditAction.AUTH_2FA_RECOVERY_USED
        detail: dict[str, Any] = {"purpose": purpose}
        if kind == "recovery":
            detail["recovery_codes_left"] = recovery_codes_left(user)
        _audit(user, action, request=request, actor=user, detail=detail)
        return kind
    until = authn._settle_failure(user.pk, now)
    detail = {"purpose": purpose, "reason": reason}
    if until is not None:
        detail["locked_until"] = until.isoformat()
    _audit(
        user,
        AuditAction.AUTH_2FA_REPLAY_REFUSED if reason == "replay" else AuditAction.AUTH_2FA_FAILED,
        request=request,
        detail=detail,
    )
    if until is not None:
        _audit(
            user,
            AuditAction.AUTH_LOCKOUT,
            request=request,
            detail={"locked_until": until.isoformat(), "purpose": purpose},
        )
        raise Refused(
            field, "locked", "the account is locked after repeated failed attempts; try again later"
        )
    if reason == "replay":
        raise Refused(field, "replay", "that code has been used already; wait for the next one")
    raise Refused(field, "wrong", "that code is not correct")


# ---------- reset ----------


def do_reset_two_factor(
    *, actor: User, clinic: Clinic, user_id: Any, request: HttpRequest | None = None
) -> User:
    """Remove another person's authenticator and recovery codes, so they enrol again at their next sign-in.

    A clinic admin's action (or the operator's, actor None). Separation of duties: an admin cannot reset their
    own second factor (another admin or the operator must), and must administer every clinic of the account.
    """
    from ketaclinic.web.accounts import staff

    staff._require_admin(actor, clinic)
    user = staff._member_of(clinic, user_id)
    if actor is not None and actor.pk == user.pk:
        raise PermissionDeniedError("you cannot reset your own two-factor sign-in; another admin must do it")
    staff._admin_of_every_clinic(actor, user)
    with transaction.atomic():
        had = TotpDevice.objects.filter(user_id=user.pk).exists()
        TotpDevice.objects.filter(user_id=user.pk).delete()
        RecoveryCode.objects.filter(user_id=user.pk).delete()
        record_audit(
            actor=staff._audit_actor(actor),
            action=AuditAction.AUTH_2FA_RESET,
            obj=user,
            clinic=clinic,
            detail={"username": user.username, "had_authenticator": had},
            request=request,
        )
    return user


def do_set_two_factor_for_all(
    *, actor: User, clinic: Clinic, required: bool, request: HttpRequest | None = None
) -> None:
    """A clinic admin requires (or stops requiring) a second factor from every member, not only the roles
    that always need one."""
    from ketaclinic.web.accounts import staff
    from ketaclinic.web.clinics.models import Clinic

    staff._require_admin(actor, clinic)
    with transaction.atomic():
        row = Clinic.objects.select_for_update().get(pk=clinic.pk)
        if row.require_two_factor_for_all == required:
            return
        Clinic.objects.filter(pk=row.pk).update(require_two_factor_for_all=required)
        record_audit(
            actor=staff._audit_actor(actor),
            action=AuditAction.CLINIC_TWO_FACTOR_POLICY,
            obj=row,
            clinic=row,
            detail={"require_two_factor_for_all": required},
            request=request,
        )
