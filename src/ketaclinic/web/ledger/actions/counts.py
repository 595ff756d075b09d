"""Inventory counts and the adjustments they lead to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.ledger import (
    EntryType,
    reconcile_count,
)
from ketaclinic.web.ledger.actions.cases import _close_case
from ketaclinic.web.ledger.actions.common import (
    COUNT_KINDS,
    COUNT_TIMINGS,
    _append,
    _check_location,
    _check_lot,
    _Draft,
    _fmt,
    _need_stock,
    _quantity,
    _require_mover,
    _when,
)
from ketaclinic.web.ledger.models import (
    Case,
    LedgerEntry,
    Lot,
    StorageLocation,
)
from ketaclinic.web.ledger.selectors import (
    location_balance,
    lock_chain,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_record_count(
    *,
    actor: User,
    lot: Lot,
    location: StorageLocation,
    counted: Decimal | str,
    kind: str = "routine",
    timing: str = "",
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[LedgerEntry, Case | None]:
    """Record a physical count against the book balance; a mismatch opens a discrepancy case.

    `kind` is routine, initial or biennial (US inventories); `timing` is opening or close of business
    (required for initial and biennial inventories, 21 CFR 1304.11(a))."""
    clinic = location.site.clinic
    _require_mover(actor, clinic)
    _check_location(location, clinic)
    _check_lot(lot, clinic)
    q = _quantity(counted, "counted")
    when = _when(occurred_at)
    fields: dict[str, list[str]] = {}
    if kind not in COUNT_KINDS:
        fields["kind"] = [f"must be one of {', '.join(COUNT_KINDS)}"]
    if timing not in COUNT_TIMINGS:
        fields["timing"] = ["must be opening or close"]
    elif kind in ("initial", "biennial") and not timing:
        fields["timing"] = ["an inventory records whether it was taken at the opening or close of business"]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        lock_chain()
        expected = location_balance(lot=lot, location=location)
        row = _append(
            actor,
            _Draft(
                EntryType.COUNT,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                expected_quantity=expected,
                detail={"kind": kind, "timing": timing},
            ),
            request=request,
            audit_detail={"expected": str(expected)},
        )
        case = None
        discrepancy = reconcile_count(expected=expected, counted=q)
        if discrepancy is not None:
            case = Case.objects.create(
                clinic=clinic,
                site=location.site,
                kind=Case.Kind.COUNT_DISCREPANCY,
                opening_entry=row,
                product=lot.product,
                lot=lot,
                location=location,
                difference=discrepancy.difference,
                discovered_on=timezone.localdate(when),
                opened_by=actor,
                opened_at=timezone.now(),
            )
            record_audit(
                actor=actor,
                action=AuditAction.LEDGER_CASE_OPEN,
                obj=case,
                clinic=clinic,
                request=request,
                detail={"difference": str(discrepancy.difference)},
            )
            notify_group(
                clinic_group(clinic.pk),
                {
                    "type": "alert",
                    "level": "warning",
                    "text": f"Count discrepancy: lot {lot.lot_number} at {location.name}",
                },
            )
        return row, case


def do_record_adjustment(
    *,
    actor: User,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    reason: str,
    case: Case | None = None,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Correct the book balance by a signed quantity with a reason (never by editing an entry)."""
    clinic = location.site.clinic
    _require_mover(actor, clinic)
    _check_location(location, clinic)
    _check_lot(lot, clinic)
    q = _quantity(quantity, allow_negative=True)
    when = _when(occurred_at)
    with transaction.atomic():
        lock_chain()
        if q < 0:
            _need_stock(lot, location, -q)
        row = _append(
            actor,
            _Draft(
                EntryType.ADJUSTMENT,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                reason=reason.strip(),
                detail={"case_id": str(case.pk)} if case else None,
            ),
            request=request,
        )
        if case is not None:
            _close_case(actor, case, row, f"adjusted by {_fmt(q)}: {reason.strip()}", request)
        return row
