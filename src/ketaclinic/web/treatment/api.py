"""API router of the treatment app (mounted at /api/v1/treatment/)."""

from ninja import Router

router = Router(tags=["treatment"])
