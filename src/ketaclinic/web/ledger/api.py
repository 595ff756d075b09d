"""API router of the ledger app (mounted at /api/v1/ledger/): balances, entries, verification, movements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Router, Schema, Status

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_clinic_by_id, access_location_by_id, access_lot_by_id
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.ledger import actions, selectors
from ketaclinic.web.ledger.models import LedgerEntry, Lot, StorageLocation
from ketaclinic.web.lib.api_errors import READ_ERRORS, WRITE_ERRORS
from ketaclinic.web.lib.audit import record_audit

router = Router(tags=["ledger"])


class BalanceOut(Schema):
    product_id: int
    product: str
    lot_id: int
    lot_number: str
    lot_expires_on: dt.date
    location_id: int
    location: str
    quantity: Decimal
    unit: str
    mg: Decimal


class EntryOut(Schema):
    seq: int
    entry_type: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    product_id: int
    lot_id: int
    quantity: Decimal
    expected_quantity: Decimal | None
    location_id: int | None
    to_location_id: int | None
    session_ref: str
    patient_id: int | None
    actor_id: int
    witness_ids: list[int]
    reason: str
    prev_hash: str
    hash: str


class VerifyOut(Schema):
    ok: bool
    entries: int = Field(..., description="Entries of this clinic checked.")
    first_bad: dict[str, Any] | None


def _entry_out(e: LedgerEntry) -> EntryOut:
    return EntryOut(
        seq=e.seq,
        entry_type=e.type.slug,
        occurred_at=e.occurred_at,
        recorded_at=e.recorded_at,
        product_id=e.product_id,
        lot_id=e.lot_id,
        quantity=e.quantity,
        expected_quantity=e.expected_quantity,
        location_id=e.location_id,
        to_location_id=e.to_location_id,
        session_ref=e.session_ref,
        patient_id=e.patient_id,
        actor_id=e.actor_id,
        witness_ids=[w for w in (e.witness_1_id, e.witness_2_id) if w is not None],
        reason=e.reason,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


@router.get("/clinics/{clinic_id}/balances", response={200: list[BalanceOut], **READ_ERRORS})
def balances(request: SignedInRequest, clinic_id: int) -> list[BalanceOut]:
    clinic = access_clinic_by_id(request.user, clinic_id, perm=Perm.LEDGER_VIEW)
    return [
        BalanceOut(
            product_id=r.product.pk,
            product=r.product.heading,
            lot_id=r.lot.pk,
            lot_number=r.lot.lot_number,
            lot_expires_on=r.lot.expires_on,
            location_id=r.location.pk,
            location=str(r.location),
            quantity=r.quantity,
            unit=r.product.unit,
            mg=r.mg,
        )
        for r in selectors.balances_for_clinic(clinic)
    ]


@router.get("/clinics/{clinic_id}/entries", response={200: list[EntryOut], **READ_ERRORS})
def entries(request: SignedInRequest, clinic_id: int, limit: int = 200) -> list[EntryOut]:
    clinic = access_clinic_by_id(request.user, clinic_id, perm=Perm.LEDGER_VIEW)
    return [_entry_out(e) for e in selectors.entries_for_clinic(clinic, limit=max(1, min(limit, 1000)))]


@router.get("/clinics/{clinic_id}/verify", response={200: VerifyOut, **READ_ERRORS})
def verify(request: SignedInRequest, clinic_id: int) -> dict[str, Any]:
    clinic = access_clinic_by_id(request.user, clinic_id, perm=Perm.LEDGER_VIEW)
    # This clinic's entries only: nothing of other clinics (their count, head or problems) is disclosed.
    result = selectors.clinic_chain_verify(clinic)
    record_audit(
        actor=request.user, action=AuditAction.LEDGER_VERIFY, clinic=clinic, request=request, detail=result
    )
    return result


class TransferIn(Schema):
    lot_id: int
    from_location_id: int
    to_location_id: int
    quantity: Decimal
    occurred_at: dt.datetime | None = None


def _scoped(
    request: SignedInRequest, clinic_id: int, lot_id: int, *location_ids: int
) -> tuple[Lot, list[StorageLocation]]:
    """The lot and storage locations of this clinic that a stock movement names (the movement is audited)."""
    kw: dict[str, Any] = {"clinic": clinic_id, "perm": Perm.STOCK_MOVE, "audit_action": None}
    lot: Lot = access_lot_by_id(request.user, lot_id, **kw)
    return lot, [access_location_by_id(request.user, lid, **kw) for lid in location_ids]


@router.post("/clinics/{clinic_id}/transfers", response={201: EntryOut, **WRITE_ERRORS})
def transfer(request: SignedInRequest, clinic_id: int, payload: TransferIn) -> Status[EntryOut]:
    access_clinic_by_id(request.user, clinic_id, perm=Perm.STOCK_MOVE)
    lot, (src, dst) = _scoped(
        request, clinic_id, payload.lot_id, payload.from_location_id, payload.to_location_id
    )
    e = actions.do_transfer_stock(
        actor=request.user,
        lot=lot,
        from_location=src,
        to_location=dst,
        quantity=payload.quantity,
        occurred_at=payload.occurred_at,
        request=request,
    )
    return Status(201, _entry_out(e))


class CountIn(Schema):
    lot_id: int
    location_id: int
    counted: Decimal
    kind: str = "routine"
    timing: str = ""


class CountOut(Schema):
    entry: EntryOut
    case_id: int | None


@router.post("/clinics/{clinic_id}/counts", response={201: CountOut, **WRITE_ERRORS})
def count(request: SignedInRequest, clinic_id: int, payload: CountIn) -> Status[CountOut]:
    access_clinic_by_id(request.user, clinic_id, perm=Perm.STOCK_MOVE)
    lot, (loc,) = _scoped(request, clinic_id, payload.lot_id, payload.location_id)
    e, case = actions.do_record_count(
        actor=request.user,
        lot=lot,
        location=loc,
        counted=payload.counted,
        kind=payload.kind,
        timing=payload.timing,
        request=request,
    )
    return Status(201, CountOut(entry=_entry_out(e), case_id=None if case is None else case.pk))
