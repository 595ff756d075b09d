"""API router of the decision app (mounted at /api/v1/decision/)."""

from ninja import Router

router = Router(tags=["decision"])
