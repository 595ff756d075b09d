"""API router of the analytics app (mounted at /api/v1/analytics/)."""

from ninja import Router

router = Router(tags=["analytics"])
