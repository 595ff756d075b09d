"""Authentication backend that refuses locked accounts and counts failures toward a lockout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.web.accounts.models import User
from ketaclinic.web.lib.audit import record_audit


class LockoutModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            User().set_password(password)  # equalise timing with the existing-user path
            with transaction.atomic():
                record_audit(
                    actor=None,
                    action="auth.login_failed",
                    detail={"username": username[:150]},
                    request=request,
                )
            return None
        now = timezone.now()
        if user.locked_until and user.locked_until > now:
            with transaction.atomic():
                record_audit(actor=None, action="auth.login_refused_locked", obj=user, request=request)
            if request is not None:
                request.kc_lockout = True  # type: ignore[attr-defined]
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_login_count or user.locked_until:
                User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
            return user
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
            user.refresh_from_db(fields=["failed_login_count"])
            detail: dict[str, Any] = {"failures": user.failed_login_count}
            if user.failed_login_count >= settings.KETACLINIC_LOCKOUT_THRESHOLD:
                until = now + timedelta(minutes=settings.KETACLINIC_LOCKOUT_MINUTES)
                User.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
                detail["locked_until"] = until.isoformat()
                if request is not None:
                    request.kc_lockout = True  # type: ignore[attr-defined]
            record_audit(actor=None, action="auth.login_failed", obj=user, detail=detail, request=request)
        return None
