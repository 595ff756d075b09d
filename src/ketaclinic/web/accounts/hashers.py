"""The password hasher: Argon2id at OWASP's recommended minimum cost, so 20 sign-ins at once fit in memory.

OWASP Password Storage Cheat Sheet (2023 and later): Argon2id with m = 19 MiB, t = 2, p = 1. Django's own
Argon2 default (m = 100 MiB, p = 8) made each sign-in allocate 100 MiB. Hashes made with other parameters
still verify (same algorithm name) and are re-hashed with these on the next successful sign-in, because
`must_update` reports the difference and Django's `check_password` then stores the new hash.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
