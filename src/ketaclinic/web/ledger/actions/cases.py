"""Theft and loss reports, their cases and their reporting deadlines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.ledger import (
    EntryType,
    jurisdiction,
    report_deadlines,
)
from ketaclinic.web.ledger.actions.common import (
    _append,
    _check_location,
    _check_lot,
    _Draft,
    _need_stock,
    _quantity,
    _require_mover,
    _when,
)
from ketaclinic.web.ledger.models import (
    Case,
    CaseDeadline,
    LedgerEntry,
    Lot,
    StorageLocation,
)
from ketaclinic.web.ledger.selectors import (
    lock_chain,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_report_theft_loss(
    *,
    actor: User,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    description: str,
    discovered_on: dt.date | None = None,
    case: Case | None = None,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[LedgerEntry, Case]:
    """Record a theft or loss: removes the missing quantity and opens a case carrying the jurisdiction's
    report deadlines (US: written notice within 1 business day, DEA Form 106 within 45 days). A count
    discrepancy `case` it explains is resolved by it."""
    clinic = location.site.clinic
    _require_mover(actor, clinic)
    _check_location(location, clinic)
    _check_lot(lot, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    found = discovered_on or timezone.localdate(when)
    if found > timezone.localdate():
        raise ValidationFailed({"discovered_on": ["cannot be in the future"]})
    with transaction.atomic():
        lock_chain()
        _need_stock(lot, location, q)
        row = _append(
            actor,
            _Draft(
                EntryType.THEFT_LOSS,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                reason=description.strip(),
                detail={"discovered_on": found.isoformat(), **({"case_id": str(case.pk)} if case else {})},
            ),
            request=request,
        )
        theft = Case.objects.create(
            clinic=clinic,
            site=location.site,
            kind=Case.Kind.THEFT_LOSS,
            opening_entry=row,
            product=lot.product,
            lot=lot,
            location=location,
            difference=-q,
            discovered_on=found,
            opened_by=actor,
            opened_at=timezone.now(),
        )
        for d in report_deadlines(found, jurisdiction(location.site.jurisdiction)):
            CaseDeadline.objects.create(case=theft, code=d.code, label=d.label, due_on=d.due, source=d.source)
        record_audit(
            actor=actor,
            action=AuditAction.LEDGER_CASE_OPEN,
            obj=theft,
            clinic=clinic,
            request=request,
            detail={"difference": str(-q), "discovered_on": found.isoformat()},
        )
        if case is not None:
            _close_case(actor, case, row, f"theft/loss reported (case #{theft.pk})", request)
        notify_group(
            clinic_group(clinic.pk),
            {
                "type": "alert",
                "level": "danger",
                "text": f"Theft/loss reported: lot {lot.lot_number} at {location.name}",
            },
        )
        return row, theft


def _close_case(
    actor: User, case: Case, entry: LedgerEntry | None, resolution: str, request: HttpRequest | None
) -> None:
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status != Case.Status.OPEN:
        raise ConflictError(f"case #{case.pk} is already resolved")
    if locked.kind == Case.Kind.THEFT_LOSS and locked.deadlines.filter(completed_at__isnull=True).exists():
        raise ConflictError(
            "complete every report deadline (written notice, Form 106) before closing this case"
        )
    locked.status = Case.Status.RESOLVED
    locked.resolution = resolution
    locked.resolved_by = actor
    locked.resolved_at = timezone.now()
    locked.resolving_entry = entry
    locked.save(update_fields=["status", "resolution", "resolved_by", "resolved_at", "resolving_entry"])
    record_audit(
        actor=actor,
        action=AuditAction.LEDGER_CASE_RESOLVE,
        obj=locked,
        clinic=locked.clinic,
        request=request,
        detail={"resolution": resolution},
    )
    case.status = locked.status


def do_resolve_case(*, actor: User, case: Case, resolution: str, request: HttpRequest | None = None) -> Case:
    """Close a case with a written resolution (e.g. a recount found the stock)."""
    _require_mover(actor, case.clinic)
    if not resolution.strip():
        raise ValidationFailed({"resolution": ["is required"]})
    with transaction.atomic():
        _close_case(actor, case, None, resolution.strip(), request)
    case.refresh_from_db()
    return case


def do_complete_deadline(
    *, actor: User, deadline: CaseDeadline, reference: str = "", request: HttpRequest | None = None
) -> CaseDeadline:
    """Mark a report as made (e.g. DEA Form 106 filed, with its confirmation number)."""
    _require_mover(actor, deadline.case.clinic)
    with transaction.atomic():
        locked = CaseDeadline.objects.select_for_update().get(pk=deadline.pk)
        if locked.completed_at is not None:
            raise ConflictError("this report is already marked as made")
        locked.completed_at = timezone.now()
        locked.completed_by = actor
        locked.reference = reference.strip()
        locked.save(update_fields=["completed_at", "completed_by", "reference"])
        record_audit(
            actor=actor,
            action=AuditAction.LEDGER_DEADLINE_COMPLETE,
            obj=locked,
            clinic=locked.case.clinic,
            request=request,
            detail={"code": locked.code, "reference": locked.reference},
        )
    return locked
