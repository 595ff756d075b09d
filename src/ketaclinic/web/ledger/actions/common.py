"""Shared pieces of the ledger actions: field parsing, permission checks, balance checks and the
append of one hash-chained entry.

Each action validates, then in one transaction locks the chain head (serialising all ledger writes, so
balances cannot race and the chain cannot fork), checks balances, appends the entry, moves the head and
writes the audit row. Nothing is stored when an action raises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ketaclinic.core.ledger import (
    EntryType,
    check_entry,
    entry_hash,
    jurisdiction,
)
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic, require_perm
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger.models import (
    ChainHead,
    LedgerEntry,
    Lot,
    Product,
    StorageLocation,
    Supplier,
    Unit,
)
from ketaclinic.web.ledger.selectors import (
    core_entry,
    location_balance,
    session_balance,
    session_origin,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.patients.models import Patient

COUNT_KINDS = ("routine", "initial", "biennial")


COUNT_TIMINGS = ("", "opening", "close")


def _quantity(value: Any, field: str = "quantity", *, allow_negative: bool = False) -> Decimal:
    try:
        q = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed({field: ["must be a number"]}) from None
    if not q.is_finite():
        raise ValidationFailed({field: ["must be a number"]})
    if q.as_tuple().exponent < -3:  # type: ignore[operator]
        raise ValidationFailed({field: ["at most 3 decimal places"]})
    if abs(q) >= Decimal("1e11"):
        raise ValidationFailed({field: ["is too large"]})
    if not allow_negative and q < 0:
        raise ValidationFailed({field: ["cannot be negative"]})
    return q + Decimal("0.000")  # fixed scale, as stored


def _when(value: dt.datetime | None, field: str = "occurred_at") -> dt.datetime:
    now = timezone.now()
    if value is None:
        return now
    if timezone.is_naive(value):
        raise ValidationFailed({field: ["must include a timezone"]})
    if value > now + dt.timedelta(minutes=5):
        raise ValidationFailed({field: ["cannot be in the future"]})
    return value


def _require_mover(actor: User, clinic: Clinic) -> None:
    """Only custodians and prescribers move stock."""
    require_perm(actor, clinic, Perm.STOCK_MOVE)


def _require_session_mover(actor: User, clinic: Clinic) -> None:
    """Movements in and out of a dosing session's custody (withdrawal, administration, waste of the remainder,
    return to stock): custodians and prescribers, and the staff who run dosing sessions (nurses) — the person
    at the bedside draws up and gives the dose. Storage movements stay with custodians and prescribers."""
    if has_perm_in_clinic(actor, clinic, Perm.STOCK_MOVE):
        return
    require_perm(actor, clinic, Perm.SESSION_RUN)


def _issues_to_error(issues: list[Any]) -> ValidationFailed:
    fields: dict[str, list[str]] = {}
    for issue in issues:
        fields.setdefault(issue.field, []).append(issue.message)
    return ValidationFailed(fields)


@dataclass(frozen=True, slots=True)
class _Draft:
    entry_type: EntryType
    clinic: Clinic
    site: Site
    lot: Lot
    quantity: Decimal
    occurred_at: dt.datetime
    location: StorageLocation | None = None
    to_location: StorageLocation | None = None
    session_ref: str = ""
    session: Any = None
    patient: Patient | None = None
    witnesses: tuple[Any, ...] = ()
    supplier: Supplier | None = None
    reason: str = ""
    expected_quantity: Decimal | None = None
    detail: dict[str, str] | None = None


def _append(
    actor: User, d: _Draft, *, request: HttpRequest | None = None, audit_detail: dict[str, Any] | None = None
) -> LedgerEntry:
    """Validate the draft against the jurisdiction's rules, seal it onto the chain and store it.

    Must run inside transaction.atomic() after `lock_chain()` and after the caller's balance checks.
    """
    rules = jurisdiction(d.site.jurisdiction)
    issues = check_entry(
        d.entry_type,
        rules=rules,
        quantity=d.quantity,
        actor=str(actor.pk),
        location=None if d.location is None else str(d.location.pk),
        to_location=None if d.to_location is None else str(d.to_location.pk),
        session=d.session_ref or None,
        patient=None if d.patient is None else str(d.patient.pk),
        witnesses=tuple(str(w.pk) for w in d.witnesses),
        reason=d.reason,
        expected_quantity=d.expected_quantity,
    )
    if issues:
        raise _issues_to_error(issues)
    head = ChainHead.objects.select_for_update().get(pk=1)
    row = LedgerEntry(
        seq=head.seq + 1,
        entry_type=int(d.entry_type),
        occurred_at=d.occurred_at,
        recorded_at=timezone.now(),
        clinic=d.clinic,
        site=d.site,
        product=d.lot.product,
        lot=d.lot,
        quantity=d.quantity,
        expected_quantity=d.expected_quantity,
        location=d.location,
        to_location=d.to_location,
        session_ref=d.session_ref,
        session=d.session if _is_dosing_session(d.session) else None,
        patient=d.patient,
        actor=actor,
        witness_1=d.witnesses[0] if d.witnesses else None,
        witness_2=d.witnesses[1] if len(d.witnesses) > 1 else None,
        supplier=d.supplier,
        reason=d.reason,
        detail={k: str(v) for k, v in (d.detail or {}).items()},
        prev_hash=head.hash,
        hash="",
    )
    row.hash = entry_hash(core_entry(row))
    row.save(force_insert=True)
    head.seq, head.hash = row.seq, row.hash
    head.save(update_fields=["seq", "hash"])
    record_audit(
        actor=actor,
        action=f"ledger.{d.entry_type.slug}",
        obj=row,
        clinic=d.clinic,
        patient=d.patient,
        request=request,
        detail={
            "seq": row.seq,
            "lot": d.lot.lot_number,
            "quantity": str(d.quantity),
            "hash": row.hash,
            **(audit_detail or {}),
        },
    )
    notify_group(
        clinic_group(d.clinic.pk),
        {
            "type": "ledger.entry",
            "seq": row.seq,
            "entry_type": d.entry_type.slug,
            "product": d.lot.product_id,
        },
    )
    return row


def _check_location(location: StorageLocation, clinic: Clinic, field: str = "location") -> None:
    if location.site.clinic_id != clinic.pk:
        raise ValidationFailed({field: ["is not a storage location of this clinic"]})
    if not location.is_active:
        raise ValidationFailed({field: ["is not in use"]})


def _check_lot(lot: Lot, clinic: Clinic) -> None:
    if lot.product.clinic_id != clinic.pk:
        raise ValidationFailed({"lot": ["is not a lot of this clinic's products"]})


def _need_stock(lot: Lot, location: StorageLocation, quantity: Decimal, field: str = "quantity") -> Decimal:
    balance = location_balance(lot=lot, location=location)
    if quantity > balance:
        raise ValidationFailed(
            {
                field: [
                    f"only {_fmt(balance)} {lot.product.unit} of lot {lot.lot_number} at {location.name}; "
                    f"{_fmt(quantity)} would make the balance negative"
                ]
            }
        )
    return balance


def _need_custody(session_ref: str, lot: Lot, quantity: Decimal) -> Decimal:
    held = session_balance(session_ref=session_ref, lot=lot)
    if quantity > held:
        raise ValidationFailed(
            {
                "quantity": [
                    f"the session holds {_fmt(held)} {lot.product.unit} of lot {lot.lot_number}; "
                    f"{_fmt(quantity)} is more than was withdrawn"
                ]
            }
        )
    return held


def _custody_origin(session_ref: str, lot: Lot, quantity: Decimal) -> StorageLocation:
    """Check the session holds `quantity` of `lot`; returns the location the session withdrew it from."""
    _need_custody(session_ref, lot, quantity)
    origin = session_origin(session_ref=session_ref, lot=lot)
    assert origin is not None  # custody > 0 implies a withdrawal
    return origin


def _units_from(product: Product, *, quantity: Any, dose_mg: Any) -> Decimal:
    """The quantity in the product's unit, from either a quantity or a dose in mg."""
    if (quantity is None) == (dose_mg is None):
        raise ValidationFailed({"quantity": ["give either the quantity or the dose in mg"]})
    if quantity is not None:
        return _quantity(quantity)
    mg = _quantity(dose_mg, "dose_mg")
    units = mg / product.strength_mg_per_unit
    if units != units.quantize(Decimal("0.001")):
        raise ValidationFailed(
            {"dose_mg": [f"{_fmt(mg)} mg is not a measurable quantity of {product.strength_label}"]}
        )
    if product.unit != Unit.ML and units != units.to_integral_value():
        raise ValidationFailed(
            {
                "dose_mg": [
                    f"{_fmt(mg)} mg is not a whole number of {product.unit}s of {product.strength_label}"
                ]
            }
        )
    return units.quantize(Decimal("0.001"))


def _fmt(q: Decimal) -> str:
    text = format(q.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _is_dosing_session(obj: Any) -> bool:
    from ketaclinic.web.treatment.models import DosingSession

    return isinstance(obj, DosingSession)


def _session_parts(session: Any, clinic: Clinic | None = None) -> tuple[str, Any, Clinic]:
    """(session_ref, patient, clinic) of a dosing session (any object with pk and patient)."""
    patient = getattr(session, "patient", None)
    if session is None or getattr(session, "pk", None) is None or patient is None:
        raise ValidationFailed({"session": ["a saved dosing session with a patient is required"]})
    return str(session.pk), patient, patient.clinic
