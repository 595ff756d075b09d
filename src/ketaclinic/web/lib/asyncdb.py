"""channels' `database_sync_to_async` with its signature known to mypy (channels ships no type information)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from channels.db import database_sync_to_async

P = ParamSpec("P")
R = TypeVar("R")


def db_sync_to_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Run `func` in a worker thread with Django's connection clean-up, awaited from async code: exactly
    channels' wrapper (methods included), annotated as the awaitable of `func`'s result."""
    wrapped: Callable[P, Coroutine[Any, Any, R]] = database_sync_to_async(func)
    return wrapped
