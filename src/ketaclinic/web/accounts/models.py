"""Users, their clinic memberships (one role per membership) and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ketaclinic.web.accounts.roles import ROLE_LABELS, Role


class User(AbstractUser):
    """A member of staff. Belongs to clinics through Membership; lockout state lives on the row."""

    display_name = models.CharField(max_length=150, blank=True)
    professional_id = models.CharField(
        max_length=64, blank=True, help_text="Licence or registration number (e.g. NPI, GMC, AHPRA)."
    )
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def label(self) -> str:
        return str(self)


def effective_membership_q(prefix: str = "") -> Q:
    """Memberships in force now: active, and approved or past their cooling-off (or needing neither).

    `prefix` is the lookup path from the queried model, e.g. "memberships__" from User.
    """
    return Q(**{f"{prefix}is_active": True}) & (
        Q(**{f"{prefix}approval_required": False})
        | Q(**{f"{prefix}approved_at__isnull": False})
        | Q(**{f"{prefix}effective_from__lte": timezone.now()})
    )


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=[(r.value, ROLE_LABELS[r]) for r in Role])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Separation of duties: a grant of a role that can move or witness controlled stock (or administer the
    # clinic) made by an admin takes effect only once a second admin or the clinic's registrant approves it,
    # or once the clinic's cooling-off period (effective_from) has passed. Rows made by the operator's CLI
    # and rows of other roles need no approval.
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approval_required = models.BooleanField(default=False)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    effective_from = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic", "role"], name="uniq_membership_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"

    def is_effective(self, now: datetime) -> bool:
        if not self.is_active:
            return False
        if not self.approval_required or self.approved_at is not None:
            return True
        return self.effective_from is not None and self.effective_from <= now


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the raw value is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Tokens made before expiry existed: none."
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_raw() -> str:
        return "kc_" + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class SetPasswordToken(models.Model):
    """A one-time, expiring link with which a person sets their own password (invitation or forced reset).

    Only the SHA-256 of the token is stored; the raw value is shown once to the admin who made it.
    """

    class Purpose(models.TextChoices):
        INVITE = "invite", "Invitation"
        RESET = "reset", "Password reset"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="set_password_tokens")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} for {self.user}"

    @staticmethod
    def new_raw() -> str:
        return secrets.token_urlsafe(32)


class AuthThrottle(models.Model):
    """One fixed-window counter of authentication attempts (per client address or per username).

    Kept in the database so every server process shares it; rows of past windows are purged as new ones open.
    """

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="uniq_auth_throttle_window")
        ]
        indexes = [models.Index(fields=["window_start"])]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%H:%M}: {self.count}"


class TotpDevice(models.Model):
    """A person's authenticator app (TOTP, RFC 6238: 30-second steps, 6 digits, SHA-1).

    `confirmed_at` is set once the person proves the app works by entering a code; until then the device does
    not count. `last_step` is the time step of the last accepted code, so a code is accepted once (a replay
    within its step, or an older code, is refused).
    """

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="totp_device")
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Authenticator of {self.user}"


class RecoveryCode(models.Model):
    """A single-use recovery code for two-factor sign-in. Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="recovery_codes")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Recovery code of {self.user}{' (used)' if self.used_at else ''}"
