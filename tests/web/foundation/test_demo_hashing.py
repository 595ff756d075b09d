"""Demo seeding hashes passwords cheaply; the first real sign-in re-hashes them at the production cost."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.test import override_settings

from ketaclinic.web.accounts.models import User
from ketaclinic.web.demo import demo_password_hashing

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


def argon2_cost(encoded: str) -> tuple[int, int, int]:
    decoded = identify_hasher(encoded).decode(encoded)
    return decoded["time_cost"], decoded["memory_cost"], decoded["parallelism"]


@override_settings(PASSWORD_HASHERS=[ARGON2])
def test_demo_hashes_are_cheap_argon2_and_upgraded_on_first_sign_in(db: Any) -> None:
    before = list(settings.PASSWORD_HASHERS)
    with demo_password_hashing():
        user = User(username="demo.user")
        user.set_password("ketaclinic-demo-2026")
        user.save()
        assert user.check_password("ketaclinic-demo-2026")  # checked during seeding: not re-hashed
        user.refresh_from_db()
        assert user.password.startswith("argon2$") and argon2_cost(user.password) == (1, 1024, 1)
    assert before == settings.PASSWORD_HASHERS
    assert user.check_password("ketaclinic-demo-2026")
    user.refresh_from_db()
    assert argon2_cost(user.password) == (2, 102400, 8)  # Django's production Argon2 cost
    assert not user.check_password("wrong-password")


@override_settings(PASSWORD_HASHERS=[ARGON2])
def test_settings_are_restored_when_seeding_fails() -> None:
    before = list(settings.PASSWORD_HASHERS)
    with pytest.raises(RuntimeError), demo_password_hashing():
        raise RuntimeError("seed failed")
    assert before == settings.PASSWORD_HASHERS
