"""The error body every API endpoint returns for a 4xx, and the status sets endpoints declare in `response=`.

Every endpoint lists the error statuses it can return, so the OpenAPI schema shows them beside the success
response. The body is always `{"error": {"code", "message", "fields"}}` (config/api.py renders it).
"""

from __future__ import annotations

from ninja import Schema


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, list[str]]


class ErrorOut(Schema):
    error: ErrorBody


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    """`{status: ErrorOut}` for each status, to merge into an endpoint's `response=` mapping."""
    return dict.fromkeys(statuses, ErrorOut)


#: A signed-in read: bad parameter (400), not signed in (401), role not allowed (403), not found in your clinics (404).
READ_ERRORS = error_responses(400, 401, 403, 404)
#: A signed-in write: the read statuses plus a state conflict (409).
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409)
#: A write that checks a password: the write statuses plus too many attempts (429, with Retry-After).
PASSWORD_WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 429)
#: A device's own endpoints (device token): bad readings (400), unknown or revoked token (401).
DEVICE_ERRORS = error_responses(400, 401)
#: A public read (no sign-in): bad parameter (400), not found (404).
PUBLIC_READ_ERRORS = error_responses(400, 404)
