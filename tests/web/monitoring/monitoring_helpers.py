"""Helpers for monitoring web tests: build compact readings, post batches as a device."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.test import Client
from django.utils import timezone

from ketaclinic.web.monitoring.models import Device
from ketaclinic.web.treatment.models import DosingSession


def reading(device: Device, session: DosingSession, *, metric: str = "8480-6", value: float = 128,
            unit: str = "mm[Hg]", seq: int = 1, ago_s: float = 0.0, at: dt.datetime | None = None) -> dict[str, Any]:  # fmt: skip
    t = at if at is not None else timezone.now() - dt.timedelta(seconds=ago_s)
    return {"device": str(device.pk), "session": str(session.pk), "metric": metric, "value": value,
            "unit": unit, "time": t.isoformat(), "seq": seq}  # fmt: skip


def post(token: str, body: Any) -> Any:
    return Client().post(
        "/api/v1/monitoring/ingest", data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip


def series(device: Device, session: DosingSession, metric: str, unit: str, values: list[float],
           *, start: dt.datetime, step_s: float = 1.0, seq0: int = 1) -> list[dict[str, Any]]:  # fmt: skip
    return [
        reading(device, session, metric=metric, unit=unit, value=v, seq=seq0 + i,
                at=start + dt.timedelta(seconds=i * step_s))
        for i, v in enumerate(values)
    ]  # fmt: skip
