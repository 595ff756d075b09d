"""Rate limits on authentication (sign-in and witness checks), per client address and per username.

Fixed-window counters live in the database (AuthThrottle), so every server process shares them and a flood
from one address cannot spend the CPU of every worker on password hashing. The limit is checked before any
password is hashed; the caller turns a refusal into HTTP 429 with a Retry-After header.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ketaclinic.web.accounts.models import AuthThrottle
from ketaclinic.web.lib.errors import RateLimitedError

PURGE_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` attempts per `window_s` seconds for one key."""

    count: int
    window_s: int


def limits() -> dict[str, Limit]:
    """The configured limits by scope (settings KETACLINIC_RATE_LIMITS)."""
    return {scope: Limit(int(c), int(w)) for scope, (c, w) in settings.KETACLINIC_RATE_LIMITS.items()}


def _window_start(now: dt.datetime, window_s: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % window_s, tz=dt.UTC)


def hit(scope: str, ident: str, *, now: dt.datetime | None = None) -> int | None:
    """Count one attempt for (scope, ident). Returns None when within the limit, else the seconds to wait."""
    limit = limits()[scope]
    now = now or timezone.now()
    start = _window_start(now, limit.window_s)
    key = f"{scope}:{ident.casefold()}"[:200]
    with transaction.atomic():
        updated = AuthThrottle.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    AuthThrottle.objects.create(key=key, window_start=start, count=1)
            except IntegrityError:  # another process opened the window first
                AuthThrottle.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
            else:
                AuthThrottle.objects.filter(window_start__lt=now - PURGE_AFTER).delete()
        count = AuthThrottle.objects.filter(key=key, window_start=start).values_list("count", flat=True)[0]
    if count <= limit.count:
        return None
    return max(1, int((start + dt.timedelta(seconds=limit.window_s) - now).total_seconds()) + 1)


def check_auth_rate(*, kind: str, address: str | None, username: str) -> None:
    """Count one `kind` ("sign_in" or "witness") attempt from `address` against `username`.

    Raises RateLimitedError (HTTP 429) when either the address or the username is over its limit; both
    counters advance either way, so a flood cannot reset one by staying under the other.
    """
    waits = [hit(f"{kind}_address", address or "unknown"), hit(f"{kind}_username", username.strip() or "-")]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        what = {"sign_in": "sign-in", "witness": "witness", "second_factor": "two-factor code"}.get(
            kind, kind
        )
        raise RateLimitedError(f"too many {what} attempts; try again in {wait} seconds", retry_after=wait)
