"""Stock held by a dosing session: withdrawal, administration, waste and return to storage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.ledger import (
    EntryType,
)
from ketaclinic.web.ledger.actions.common import (
    _append,
    _check_location,
    _check_lot,
    _custody_origin,
    _Draft,
    _fmt,
    _need_stock,
    _quantity,
    _require_mover,
    _require_session_mover,
    _session_parts,
    _units_from,
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
    StorageLocation,
)
from ketaclinic.web.ledger.selectors import (
    lock_chain,
)
from ketaclinic.web.lib.errors import ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_withdraw_for_session(
    *,
    actor: User,
    session: Any,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Take stock out of `location` into the dosing session's custody. Refused if the balance would go negative."""
    session_ref, patient, clinic = _session_parts(session)
    _require_session_mover(actor, clinic)
    _check_location(location, clinic)
    _check_lot(lot, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    if lot.expires_on < timezone.localdate(when):
        raise ValidationFailed({"lot": [f"lot {lot.lot_number} expired on {lot.expires_on.isoformat()}"]})
    with transaction.atomic():
        lock_chain()
        _need_stock(lot, location, q)
        return _append(
            actor,
            _Draft(
                EntryType.WITHDRAWAL,
                clinic,
                location.site,
                lot,
                q,
                when,
                location=location,
                session_ref=session_ref,
                session=session,
                patient=patient,
            ),
            request=request,
        )


def do_record_administration(
    *,
    actor: User,
    session: Any,
    lot: Lot,
    quantity: Decimal | str | None = None,
    dose_mg: Decimal | str | None = None,
    prescriber: User | None = None,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Record what was given to the session's patient, out of what the session withdrew of `lot`.

    Give `quantity` in the product's unit (mL, device...) or `dose_mg` (converted with the product's
    strength; it must come to a whole number of devices/tablets for countable forms). The prescriber
    (register "authority") defaults to the signer of the session's order.
    """
    session_ref, patient, clinic = _session_parts(session)
    _require_session_mover(actor, clinic)
    _check_lot(lot, clinic)
    q = _units_from(lot.product, quantity=quantity, dose_mg=dose_mg)
    when = _when(occurred_at)
    detail: dict[str, str] = {}
    if prescriber is None:
        order = getattr(session, "order", None)
        prescriber = getattr(order, "signed_by", None)
    if dose_mg is not None:
        detail["dose_mg"] = _fmt(_quantity(dose_mg, "dose_mg"))
    if prescriber is not None:
        detail.update({"prescriber_id": str(prescriber.pk), "prescriber": str(prescriber)})
    with transaction.atomic():
        lock_chain()
        origin = _custody_origin(session_ref, lot, q)
        return _append(
            actor,
            _Draft(
                EntryType.ADMINISTRATION,
                clinic,
                origin.site,
                lot,
                q,
                when,
                location=origin,
                session_ref=session_ref,
                session=session,
                patient=patient,
                detail=detail,
            ),
            request=request,
        )


def do_record_waste(
    *,
    actor: User,
    lot: Lot,
    quantity: Decimal | str,
    witness: User | None,
    witness_password: str | WitnessSignature | None,
    session: Any = None,
    location: StorageLocation | None = None,
    second_witness: User | None = None,
    second_witness_password: str | WitnessSignature | None = None,
    witness_code: str | None = None,
    second_witness_code: str | None = None,
    reason: str = "",
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Waste the unused remainder of a session's withdrawal (give `session`), or breakage/spillage from
    storage (give `location`), in front of a witness who re-enters their password."""
    if (session is None) == (location is None):
        raise ValidationFailed(
            {"session": ["give either the session (remainder) or the location (breakage)"]}
        )
    if session is not None:
        session_ref, patient, clinic = _session_parts(session)
    else:
        assert location is not None
        session_ref, patient, clinic = "", None, location.site.clinic
        _check_location(location, clinic)
    if session is not None:
        _require_session_mover(actor, clinic)
    else:
        _require_mover(actor, clinic)
    _check_lot(lot, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    _authenticate_witness(actor, clinic, witness, witness_password, "witness", request, witness_code)
    witnesses = [witness]
    if second_witness is not None:
        _authenticate_second_witness(
            actor, clinic, witness, second_witness, second_witness_password, request, second_witness_code
        )
        witnesses.append(second_witness)
    with transaction.atomic():
        lock_chain()
        if session_ref:
            origin = _custody_origin(session_ref, lot, q)
        else:
            assert location is not None
            _need_stock(lot, location, q)
            origin = location
        return _append(
            actor,
            _Draft(
                EntryType.WASTE,
                clinic,
                origin.site,
                lot,
                q,
                when,
                location=origin,
                session_ref=session_ref,
                session=session,
                patient=patient,
                witnesses=tuple(witnesses),
                reason=reason.strip(),
            ),
            request=request,
        )


def do_return_to_stock(
    *,
    actor: User,
    session: Any,
    lot: Lot,
    quantity: Decimal | str,
    occurred_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> LedgerEntry:
    """Put unopened withdrawn stock back where it came from."""
    session_ref, patient, clinic = _session_parts(session)
    _require_session_mover(actor, clinic)
    _check_lot(lot, clinic)
    q = _quantity(quantity)
    when = _when(occurred_at)
    with transaction.atomic():
        lock_chain()
        origin = _custody_origin(session_ref, lot, q)
        return _append(
            actor,
            _Draft(
                EntryType.RETURN_TO_STOCK,
                clinic,
                origin.site,
                lot,
                q,
                when,
                location=origin,
                session_ref=session_ref,
                session=session,
                patient=patient,
            ),
            request=request,
        )
