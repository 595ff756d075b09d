"""Stock movements between storage and the outside: receipt, transfer, return to the supplier, destruction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.ledger import (
    EntryType,
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
from ketaclinic.web.ledger.actions.witness import (
    WitnessSignature,
    _authenticate_second_witness,
    _authenticate_witness,
)
from ketaclinic.web.ledger.models import (
    LedgerEntry,
    Lot,
    Product,
    StorageLocation,
    Supplier,
)
from ketaclinic.web.ledger.selectors import (
    lock_chain,
)
from ketaclinic.web.lib.errors import ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_receive_stock(
    *,
    actor: User,
    location: StorageLocation,
    product: Product,
    supplier: Supplier,
    lot_number: str,
    lot_expires_on: dt.date,
    quantity: Decimal | str,
    invoice: str = "",
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Receipt from a registered supplier into storage; creates the lot on first receipt."""
    clinic = location.site.clinic
    _require_mover(actor, clinic)
    _check_location(location, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    fields: dict[str, list[str]] = {}
    if product.clinic_id != clinic.pk:
        fields["product"] = ["is not a product of this clinic"]
    if supplier.clinic_id != clinic.pk:
        fields["supplier"] = ["is not a supplier of this clinic"]
    elif (problem := supplier.registration_problem(timezone.localdate(when))) is not None:
        fields["supplier"] = [problem]
    lot_number = lot_number.strip()
    if not lot_number:
        fields["lot_number"] = ["is required"]
    if lot_expires_on is None:
        fields["lot_expires_on"] = ["is required"]
    elif lot_expires_on < timezone.localdate(when):
        fields["lot_expires_on"] = [
            f"lot expired on {lot_expires_on.isoformat()}: expired stock cannot be received"
        ]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        lock_chain()
        lot, created = Lot.objects.get_or_create(
            product=product,
            lot_number=lot_number,
            defaults={"expires_on": lot_expires_on, "supplier": supplier},
        )
        if not created and lot.expires_on != lot_expires_on:
            raise ValidationFailed(
                {"lot_expires_on": [f"lot {lot_number} is on file with expiry {lot.expires_on.isoformat()}"]}
            )
        return _append(
            actor,
            _Draft(
                EntryType.RECEIPT,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                supplier=supplier,
                detail={"supplier_id": str(supplier.pk), "invoice": invoice.strip()},
            ),
            request=request,
        )


def do_transfer_stock(
    *,
    actor: User,
    lot: Lot,
    from_location: StorageLocation,
    to_location: StorageLocation,
    quantity: Decimal | str,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    clinic = from_location.site.clinic
    _require_mover(actor, clinic)
    _check_location(from_location, clinic, "from_location")
    _check_location(to_location, clinic, "to_location")
    _check_lot(lot, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    with transaction.atomic():
        lock_chain()
        _need_stock(lot, from_location, q)
        return _append(
            actor,
            _Draft(
                EntryType.TRANSFER,
                clinic,
                from_location.site,
                lot,
                q,
                when,
                location=from_location,
                to_location=to_location,
            ),
            request=request,
        )


def do_return_to_supplier(
    *,
    actor: User,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    supplier: Supplier,
    reason: str = "",
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    clinic = location.site.clinic
    _require_mover(actor, clinic)
    _check_location(location, clinic)
    _check_lot(lot, clinic)
    if supplier.clinic_id != clinic.pk:
        raise ValidationFailed({"supplier": ["is not a supplier of this clinic"]})
    q = _quantity(quantity)
    when = _when(occurred_at)
    if (problem := supplier.registration_problem(timezone.localdate(when))) is not None:
        raise ValidationFailed({"supplier": [problem]})
    with transaction.atomic():
        lock_chain()
        _need_stock(lot, location, q)
        return _append(
            actor,
            _Draft(
                EntryType.RETURN_TO_SUPPLIER,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                supplier=supplier,
                reason=reason.strip(),
                detail={"supplier_id": str(supplier.pk)},
            ),
            request=request,
        )


def do_record_destruction(
    *,
    actor: User,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    method: str,
    witness: User | None,
    witness_password: str | WitnessSignature | None,
    second_witness: User,
    second_witness_password: str | WitnessSignature | None,
    witness_code: str | None = None,
    second_witness_code: str | None = None,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """On-site destruction (expired or unwanted stock) in front of two witnesses (US: DEA Form 41 data)."""
    clinic = location.site.clinic
    _require_mover(actor, clinic)
    _check_location(location, clinic)
    _check_lot(lot, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    if not method.strip():
        raise ValidationFailed({"method": ["describe how the stock was made non-retrievable"]})
    _authenticate_witness(actor, clinic, witness, witness_password, "witness", request, witness_code)
    _authenticate_second_witness(
        actor, clinic, witness, second_witness, second_witness_password, request, second_witness_code
    )
    with transaction.atomic():
        lock_chain()
        _need_stock(lot, location, q)
        return _append(
            actor,
            _Draft(
                EntryType.DESTRUCTION,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                witnesses=(witness, second_witness),
                reason=method.strip(),
            ),
            request=request,
        )
