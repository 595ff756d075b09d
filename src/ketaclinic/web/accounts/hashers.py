"""The password hasher: Argon2id at OWASP's recommended minimum cost, so 20 sign-ins at once fit in memory.

OWASP Password Storage Cheat Sheet (2023 and later): Argon2id with m = 19 MiB, t = 2, p = 1. Django's own
Argon2 default (m = 100 MiB, p = 8) made each sign-in allocate 100 MiB. Hashes made with other parameters
still verify (same algorithm name) and are re-hashed with these on the next successful sign-in, because
`must_update` reports the difference and Django's `check_password` then stores the new hash.

At most KETACLINIC_HASH_CONCURRENCY hashes (default 4) run at once per process: a burst of sign-ins queues
instead of allocating 19 MiB each at the same moment. With 2 cores more parallel hashes would not finish
sooner anyway.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.contrib.auth.hashers import Argon2PasswordHasher

_SLOTS = threading.BoundedSemaphore(max(1, int(os.environ.get("KETACLINIC_HASH_CONCURRENCY", "4"))))


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        with _SLOTS:
            return str(super().encode(password, salt))

    def verify(self, password: str, encoded: str) -> bool:
        with _SLOTS:
            return bool(super().verify(password, encoded))

    def harden_runtime(self, password: str, encoded: str) -> Any:
        with _SLOTS:
            return super().harden_runtime(password, encoded)
