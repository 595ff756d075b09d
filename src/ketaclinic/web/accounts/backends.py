"""Authentication backend: every password check goes through accounts.authn (lockout, counting, audit)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from ketaclinic.web.accounts import authn
from ketaclinic.web.accounts.models import User


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
        # The sign-in view records the successful sign-in itself (once the session exists).
        outcome, user = authn.check_password(
            username=username, password=password, request=request, purpose="sign_in", audit_success=False
        )
        if outcome is authn.Outcome.LOCKED and request is not None:
            request.kc_lockout = True  # type: ignore[attr-defined]
        return user if outcome is authn.Outcome.OK else None
