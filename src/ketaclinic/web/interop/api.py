"""API router of the interop app (mounted at /api/v1/interop/)."""

from ninja import Router

router = Router(tags=["interop"])
