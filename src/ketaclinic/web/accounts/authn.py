"""The one password check of the clinic: sign-in and every witness signature go through `check_password`.

Lockout holds under concurrency: before a password is hashed, the attempt reserves a slot by incrementing the
account's failure counter under a row lock (`failed_login_count` counts failed and in-flight attempts). Once
the counter reaches the threshold no further password check starts, so N parallel wrong passwords make at most
the threshold's worth of checks, in any number of server processes. A correct password clears the counter; the
failure that brings it to the threshold locks the account for KETACLINIC_LOCKOUT_MINUTES. Every outcome is
audited (sign-in or witness, success, failure, lockout, refusal), attributed to the account's clinics.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.models import User
from ketaclinic.web.lib.audit import record_audit


class Outcome(StrEnum):
    OK = "ok"
    BAD_PASSWORD = "bad_password"
    LOCKED = "locked"
    INACTIVE = "inactive"
    UNKNOWN_USER = "unknown_user"


# Audit action per (purpose, outcome); "lockout" is written when a failure locks the account.
_AUDIT = {
    ("sign_in", Outcome.OK): AuditAction.AUTH_LOGIN,
    ("sign_in", Outcome.BAD_PASSWORD): AuditAction.AUTH_LOGIN_FAILED,
    ("sign_in", Outcome.UNKNOWN_USER): AuditAction.AUTH_LOGIN_FAILED,
    ("sign_in", Outcome.LOCKED): AuditAction.AUTH_LOGIN_REFUSED_LOCKED,
    ("sign_in", Outcome.INACTIVE): AuditAction.AUTH_LOGIN_REFUSED_INACTIVE,
    ("witness", Outcome.OK): AuditAction.AUTH_WITNESS_OK,
    ("witness", Outcome.BAD_PASSWORD): AuditAction.AUTH_WITNESS_FAILED,
    ("witness", Outcome.UNKNOWN_USER): AuditAction.AUTH_WITNESS_FAILED,
    ("witness", Outcome.LOCKED): AuditAction.AUTH_WITNESS_REFUSED_LOCKED,
    ("witness", Outcome.INACTIVE): AuditAction.AUTH_WITNESS_REFUSED_INACTIVE,
}


def account_clinic_ids(user: User | None) -> list[int | None]:
    """The clinics an account event is attributed to: every clinic the account is or was a member of."""
    if user is None:
        return [None]
    from ketaclinic.web.accounts.models import Membership

    ids: list[int | None] = [
        *sorted(set(Membership.objects.filter(user_id=user.pk).values_list("clinic_id", flat=True)))
    ]
    return ids or [None]


def _threshold() -> int:
    return int(settings.KETACLINIC_LOCKOUT_THRESHOLD)


def _reserve_attempt(user_pk: int, now: dt.datetime) -> bool:
    """Take one attempt slot under a row lock; False when the account is locked or its slots are used up."""
    with transaction.atomic():
        row = (
            User.objects.select_for_update()
            .filter(pk=user_pk)
            .values_list("failed_login_count", "locked_until")
        )
        count, locked_until = row[0]
        if locked_until is not None and locked_until > now:
            return False
        if locked_until is not None:  # an expired lock starts a fresh count
            count = 0
        if count >= _threshold():
            return False
        User.objects.filter(pk=user_pk).update(failed_login_count=count + 1, locked_until=None)
    return True


def _settle_failure(user_pk: int, now: dt.datetime) -> dt.datetime | None:
    """After a wrong password: lock the account when its counter has reached the threshold. Returns the lock's end."""
    with transaction.atomic():
        count, locked_until = (
            User.objects.select_for_update()
            .filter(pk=user_pk)
            .values_list("failed_login_count", "locked_until")[0]
        )
        if locked_until is not None and locked_until > now:
            return None  # a concurrent failure locked it already
        if count < _threshold():
            return None
        until = now + dt.timedelta(minutes=int(settings.KETACLINIC_LOCKOUT_MINUTES))
        User.objects.filter(pk=user_pk).update(failed_login_count=0, locked_until=until)
        return until


def _audit(
    purpose: str,
    outcome: Outcome,
    *,
    user: User | None,
    username: str,
    request: HttpRequest | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write the audit row(s) of one attempt, once per clinic of the account (so each clinic's auditor sees it)."""
    action = _AUDIT[(purpose, outcome)]
    base = {"username": username[:150], **(detail or {})}
    actor = user if outcome is Outcome.OK else None
    with transaction.atomic():
        for clinic_id in account_clinic_ids(user):
            record_audit(actor=actor, action=action, obj=user, clinic=clinic_id, detail=base, request=request)


def check_password(
    *,
    username: str,
    password: str,
    request: HttpRequest | None,
    purpose: str = "sign_in",
    user: User | None = None,
    audit_success: bool = True,
) -> tuple[Outcome, User | None]:
    """Check `password` for the account `username` (or `user`), counting failures toward the lockout.

    `purpose` is "sign_in" or "witness" (a second signature). Returns the outcome and the user (None when the
    username is unknown). Never raises for bad credentials; callers turn the outcome into their own message.
    """
    if user is None:
        user = User.objects.filter(username__iexact=username.strip()).first() if username.strip() else None
    if user is None:
        User().set_password(password)  # equalise timing with the existing-user path
        _audit(purpose, Outcome.UNKNOWN_USER, user=None, username=username, request=request)
        return Outcome.UNKNOWN_USER, None
    now = timezone.now()
    if not user.is_active:
        _audit(purpose, Outcome.INACTIVE, user=user, username=user.username, request=request)
        return Outcome.INACTIVE, user
    if not _reserve_attempt(user.pk, now):
        _audit(purpose, Outcome.LOCKED, user=user, username=user.username, request=request)
        return Outcome.LOCKED, user
    if user.check_password(password):
        User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
        user.failed_login_count, user.locked_until = 0, None
        if audit_success:
            _audit(purpose, Outcome.OK, user=user, username=user.username, request=request)
        return Outcome.OK, user
    until = _settle_failure(user.pk, now)
    detail: dict[str, Any] = {}
    if until is not None:
        detail["locked_until"] = until.isoformat()
    _audit(purpose, Outcome.BAD_PASSWORD, user=user, username=user.username, request=request, detail=detail)
    if until is not None:
        with transaction.atomic():
            for clinic_id in account_clinic_ids(user):
                record_audit(
                    actor=None,
                    action=AuditAction.AUTH_LOCKOUT,
                    obj=user,
                    clinic=clinic_id,
                    detail={"username": user.username, "locked_until": until.isoformat(), "purpose": purpose},
                    request=request,
                )
        return Outcome.LOCKED, user
    return Outcome.BAD_PASSWORD, user
