"""Ingestion pipeline for one device batch: validate every reading, store the new ones, evaluate alert rules.

Django-free on purpose: the web action drives it with Django's connection, bench/ingest.py with its own
psycopg connection, so the benchmark measures the code that serves requests. Storage is a callable
(`insert(rows) -> indexes of new rows`), alert evaluation the pure core engine, in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ketaclinic.core.monitoring import (
    AlertEngine,
    AlertEvent,
    FieldError,
    Reading,
    compact_from_observation,
    validate_compact,
)
from ketaclinic.web.monitoring.fastpath import Row

#: A batch may carry at most this many readings (a device buffering 10 min of 5 metrics at 2 Hz).
MAX_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """The authenticated device: its id, the identifier readings carry, and the session it is attached to."""

    device_id: int
    device_key: str
    session_id: int | None


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    new_rows: list[Row] = field(default_factory=list)

    def as_response(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "alerts": [
                {
                    "rule_id": e.rule_id,
                    "kind": e.kind.value,
                    "severity": e.severity.value,
                    "message": e.message,
                }
                for e in self.events
            ],
        }


def _reject(result: BatchResult, index: int, errors: Sequence[FieldError]) -> None:
    fields: dict[str, list[str]] = {}
    for e in errors:
        fields.setdefault(e.field, []).append(e.message)
    result.rejected.append({"index": index, "fields": fields})


def ingest_items(
    items: Sequence[object],
    *,
    device: DeviceContext,
    now: datetime,
    insert: Callable[[Sequence[Row]], list[int]],
    engine: AlertEngine,
    max_future_skew: timedelta = timedelta(seconds=5),
) -> BatchResult:
    """Validate, store and evaluate one batch from one device. Good readings are kept even when others fail.

    Each item is a compact reading or a FHIR Observation (a BP panel becomes two readings sharing the
    item's index). Besides the core checks, the reading's device must be the authenticated device and its
    session the one the device is attached to. Only readings that were new (not duplicates of a stored
    device sequence number) are evaluated by the alert rules, in time order within the batch.
    """
    result = BatchResult()
    rows: list[Row] = []
    readings: list[Reading] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("resourceType") is not None:
            mapped = compact_from_observation(item)
            if mapped and isinstance(mapped[0], FieldError):
                _reject(result, index, mapped)  # type: ignore[arg-type]
                continue
            candidates: list[object] = list(mapped)
        else:
            candidates = [item]
        for cand in candidates:
            r = validate_compact(cand, now=now, max_future_skew=max_future_skew)
            if isinstance(r, list):
                _reject(result, index, r)
                continue
            errs = []
            if r.device != device.device_key:
                errs.append(FieldError("device", f"is not the authenticated device ({device.device_key})"))
            if device.session_id is None:
                errs.append(FieldError("session", "the device is not attached to a session"))
            elif r.session != str(device.session_id):
                errs.append(
                    FieldError(
                        "session", f"the device is attached to session {device.session_id}, not {r.session}"
                    )
                )
            if errs:
                _reject(result, index, errs)
                continue
            assert device.session_id is not None
            readings.append(r)
            rows.append(
                Row(
                    device_id=device.device_id,
                    session_id=device.session_id,
                    metric=r.metric,
                    code=r.code,
                    value=r.value,
                    unit=r.unit,
                    measured_at=r.time,
                    seq=r.seq,
                )
            )
    new = insert(rows) if rows else []
    result.stored = len(new)
    result.duplicates = len(rows) - len(new)
    fresh = [readings[i] for i in new]
    fresh.sort(key=lambda r: r.time)
    for r in fresh:
        evs = engine.evaluate(r)
        if evs:
            result.events.extend(evs)
    result.new_rows = [rows[i] for i in new]
    return result
