"""Domain errors raised by actions; views and the API turn them into one error shape."""

from __future__ import annotations

from typing import ClassVar

from ketaclinic.core.errors import CoreValidationError


class DomainError(Exception):
    """Base of every error an action raises on purpose. Nothing has been written when it propagates."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = fields or {}

    def as_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(DomainError):
    """Input failed validation; `fields` maps each offending field to its reasons."""

    code = "validation_failed"
    status = 400

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        if message is None:
            message = "; ".join(f"{field}: {reasons[0]}" for field, reasons in fields.items() if reasons)
        super().__init__(message or "invalid input", fields=fields)


def failed_from_core(exc: CoreValidationError, *, field: str | None = None) -> ValidationFailed:
    """The field error for a core validation error: its reason under its path, or under `field` when the form
    names that input differently (nothing was stored: core validates before any write)."""
    return ValidationFailed({exc.field if field is None else field: [exc.reason]})


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    status = 403


class NotFoundError(DomainError):
    code = "not_found"
    status = 404


class ConflictError(DomainError):
    """The request is valid but the current state forbids it (e.g. an invalid workflow transition)."""

    code = "conflict"
    status = 409


def field_errors_from_django(exc: object) -> dict[str, list[str]]:
    """Convert a django ValidationError into {field: [messages]} ("__all__" for non-field errors)."""
    message_dict = getattr(exc, "message_dict", None)
    if message_dict is not None:
        return {k: [str(m) for m in v] for k, v in message_dict.items()}
    messages = getattr(exc, "messages", [str(exc)])
    return {"__all__": [str(m) for m in messages]}


class RateLimitedError(DomainError):
    """Too many attempts from one client address or against one username; retry after `retry_after` seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
