"""Writes of the controlled-substance ledger: every stock movement is one hash-chained, append-only entry.

Each action validates, then in one transaction locks the chain head (serialising all ledger writes, so
balances cannot race and the chain cannot fork), checks balances, appends the entry, moves the head and
writes the audit row. Nothing is stored when an action raises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.ledger import (
    EntryType,
    check_entry,
    entry_hash,
    jurisdiction,
    reconcile_count,
    report_deadlines,
)
from ketaclinic.web.accounts.roles import Perm, Role, has_perm_in_clinic, require_perm
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger.models import (
    Case,
    CaseDeadline,
    ChainHead,
    Drug,
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
    lock_chain,
    session_balance,
    session_origin,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, ValidationFailed
from ketaclinic.web.lib.live import clinic_group, notify_group

WITNESS_ROLES = frozenset({Role.PRESCRIBER.value, Role.NURSE.value, Role.CUSTODIAN.value})
COUNT_KINDS = ("routine", "initial", "biennial")
COUNT_TIMINGS = ("", "opening", "close")


# --- helpers -----------------------------------------------------------------------------------------


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


def _require_mover(actor: Any, clinic: Clinic) -> None:
    """Only custodians and prescribers move stock."""
    require_perm(actor, clinic, Perm.STOCK_MOVE)


def _require_session_mover(actor: Any, clinic: Clinic) -> None:
    """Movements in and out of a dosing session's custody (withdrawal, administration, waste of the remainder,
    return to stock): custodians and prescribers, and the staff who run dosing sessions (nurses) — the person
    at the bedside draws up and gives the dose. Storage movements stay with custodians and prescribers."""
    if has_perm_in_clinic(actor, clinic, Perm.STOCK_MOVE):
        return
    require_perm(actor, clinic, Perm.SESSION_RUN)


@dataclass(frozen=True, slots=True)
class WitnessSignature:
    """Proof that `witness_id` re-entered their password for `actor_id` in `clinic_id`, made only by
    `authenticate_witness`. Lets a caller authenticate once, outside its own transaction (so a failure is
    counted and audited even though the write is refused), then pass the proof instead of the password."""

    witness_id: int
    actor_id: int
    clinic_id: int


_WITNESS_REFUSED = "the witness's password is not correct"


def authenticate_witness(
    *,
    actor: Any,
    clinic: Clinic,
    witness: Any,
    password: str | None,
    field: str = "witness",
    request: Any = None,
) -> WitnessSignature:
    """A witness is another active clinical or custody member of the clinic who re-enters their password.

    The password goes through the sign-in path (accounts.authn): rate limited per client address and per
    witness, failures counted toward the witness's lockout, a locked or inactive account refused, every
    attempt audited. It runs before any stock check, so the error of a wrong password never depends on the
    quantity or the balance.
    """
    from ketaclinic.web.accounts import authn
    from ketaclinic.web.accounts.throttle import check_auth_rate
    from ketaclinic.web.lib.audit import client_ip

    if witness is None:
        raise ValidationFailed({field: ["a witness is required"]})
    if witness.pk == actor.pk:
        raise ValidationFailed({field: ["the witness must be someone other than you"]})
    from ketaclinic.web.accounts.models import Membership, effective_membership_q

    if not Membership.objects.filter(
        effective_membership_q(), user_id=witness.pk, clinic_id=clinic.pk, role__in=WITNESS_ROLES
    ).exists():
        raise ValidationFailed(
            {field: ["the witness must be a prescriber, nurse or custodian of this clinic"]}
        )
    check_auth_rate(kind="witness", address=client_ip(request), username=witness.get_username())
    outcome, _ = authn.check_password(
        username=witness.get_username(),
        password=password or "",
        request=request,
        purpose="witness",
        user=witness,
    )
    if outcome is authn.Outcome.INACTIVE:
        raise ValidationFailed({field: ["the witness's account is inactive"]})
    if outcome is authn.Outcome.LOCKED:
        raise ValidationFailed(
            {
                f"{field}_password": [
                    "the witness's account is locked after repeated failed attempts; try again later"
                ]
            }
        )
    if outcome is not authn.Outcome.OK:
        raise ValidationFailed({f"{field}_password": [_WITNESS_REFUSED]})
    return WitnessSignature(witness_id=witness.pk, actor_id=actor.pk, clinic_id=clinic.pk)


def _authenticate_witness(
    actor: Any,
    clinic: Clinic,
    witness: Any,
    password: str | WitnessSignature | None,
    field: str,
    request: Any,
) -> None:
    if isinstance(password, WitnessSignature) and witness is not None:
        if password == WitnessSignature(witness_id=witness.pk, actor_id=actor.pk, clinic_id=clinic.pk):
            return
        raise ValidationFailed({field: ["the witness signature belongs to another witness, actor or clinic"]})
    authenticate_witness(
        actor=actor,
        clinic=clinic,
        witness=witness,
        password=password if isinstance(password, str) else None,
        field=field,
        request=request,
    )


def _authenticate_second_witness(
    actor: Any,
    clinic: Clinic,
    witness: Any,
    second_witness: Any,
    password: str | WitnessSignature | None,
    request: Any,
) -> None:
    """The second witness authenticates like the first and must be a different person."""
    if second_witness is not None and second_witness.pk == witness.pk:
        raise ValidationFailed({"second_witness": ["must be a different person from the first witness"]})
    _authenticate_witness(actor, clinic, second_witness, password, "second_witness", request)


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
    patient: Any = None
    witnesses: tuple[Any, ...] = ()
    supplier: Supplier | None = None
    reason: str = ""
    expected_quantity: Decimal | None = None
    detail: dict[str, str] | None = None


def _append(
    actor: Any, d: _Draft, *, request: Any = None, audit_detail: dict[str, Any] | None = None
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


# --- reference data ----------------------------------------------------------------------------------


def do_create_product(
    *,
    actor: Any,
    clinic: Clinic,
    code_system: str,
    code: str,
    drug: str,
    name: str,
    form: str,
    strength_mg_per_unit: Decimal | str,
    unit: str,
    container_size: Decimal | str,
    container_label: str = "vial",
    request: Any = None,
) -> Product:
    _require_mover(actor, clinic)
    fields: dict[str, list[str]] = {}
    if code_system not in Product.CodeSystem.values:
        fields["code_system"] = ["must be ndc or local"]
    code = code.strip()
    if not code:
        fields["code"] = ["is required"]
    elif code_system == Product.CodeSystem.NDC and not _valid_ndc(code):
        fields["code"] = ["an NDC has 10 or 11 digits in 4-4-2, 5-3-2, 5-4-1 or 5-4-2 form"]
    if drug not in Drug.values:
        fields["drug"] = [f"must be one of {', '.join(Drug.values)}"]
    if unit not in Unit.values:
        fields["unit"] = [f"must be one of {', '.join(Unit.values)}"]
    for f, v in (("name", name), ("form", form)):
        if not v.strip():
            fields[f] = ["is required"]
    if fields:
        raise ValidationFailed(fields)
    strength = _quantity(strength_mg_per_unit, "strength_mg_per_unit")
    size = _quantity(container_size, "container_size")
    if strength <= 0:
        raise ValidationFailed({"strength_mg_per_unit": ["must be greater than zero"]})
    if size <= 0:
        raise ValidationFailed({"container_size": ["must be greater than zero"]})
    with transaction.atomic():
        if Product.objects.filter(clinic=clinic, code_system=code_system, code=code).exists():
            raise ValidationFailed({"code": ["a product with this code already exists"]})
        product = Product.objects.create(
            clinic=clinic,
            code_system=code_system,
            code=code,
            drug=drug,
            name=name.strip(),
            form=form.strip(),
            strength_mg_per_unit=strength,
            unit=unit,
            container_size=size,
            container_label=container_label.strip() or "vial",
        )
        record_audit(actor=actor, action="ledger.product.create", obj=product, clinic=clinic, request=request)
    return product


def _valid_ndc(code: str) -> bool:
    parts = code.split("-")
    if len(parts) == 3:
        return all(p.isdigit() for p in parts) and tuple(len(p) for p in parts) in {
            (4, 4, 2),
            (5, 3, 2),
            (5, 4, 1),
            (5, 4, 2),
        }
    return code.isdigit() and len(code) in (10, 11)


def do_create_supplier(
    *,
    actor: Any,
    clinic: Clinic,
    name: str,
    address: str,
    registration_number: str,
    registration_expires_on: dt.date | None,
    request: Any = None,
) -> Supplier:
    _require_mover(actor, clinic)
    fields: dict[str, list[str]] = {}
    if not name.strip():
        fields["name"] = ["is required"]
    if not address.strip():
        fields["address"] = ["is required"]
    if fields:
        raise ValidationFailed(fields)
    with transaction.atomic():
        if Supplier.objects.filter(clinic=clinic, name=name.strip()).exists():
            raise ValidationFailed({"name": ["a supplier with this name already exists"]})
        supplier = Supplier.objects.create(
            clinic=clinic,
            name=name.strip(),
            address=address.strip(),
            registration_number=registration_number.strip(),
            registration_expires_on=registration_expires_on,
        )
        record_audit(
            actor=actor, action="ledger.supplier.create", obj=supplier, clinic=clinic, request=request
        )
    return supplier


def do_create_location(*, actor: Any, site: Site, name: str, request: Any = None) -> StorageLocation:
    _require_mover(actor, site.clinic)
    if not name.strip():
        raise ValidationFailed({"name": ["is required"]})
    with transaction.atomic():
        if StorageLocation.objects.filter(site=site, name=name.strip()).exists():
            raise ValidationFailed({"name": ["this site already has a location with this name"]})
        loc = StorageLocation.objects.create(site=site, name=name.strip())
        record_audit(
            actor=actor, action="ledger.location.create", obj=loc, clinic=site.clinic, request=request
        )
    return loc


# --- movements ---------------------------------------------------------------------------------------


def do_receive_stock(
    *,
    actor: Any,
    location: StorageLocation,
    product: Product,
    supplier: Supplier,
    lot_number: str,
    lot_expires_on: dt.date,
    quantity: Decimal | str,
    invoice: str = "",
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
    actor: Any,
    lot: Lot,
    from_location: StorageLocation,
    to_location: StorageLocation,
    quantity: Decimal | str,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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


def do_withdraw_for_session(
    *,
    actor: Any,
    session: Any,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
    actor: Any,
    session: Any,
    lot: Lot,
    quantity: Decimal | str | None = None,
    dose_mg: Decimal | str | None = None,
    prescriber: Any = None,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
    actor: Any,
    lot: Lot,
    quantity: Decimal | str,
    witness: Any,
    witness_password: str | WitnessSignature | None,
    session: Any = None,
    location: StorageLocation | None = None,
    second_witness: Any = None,
    second_witness_password: str | WitnessSignature | None = None,
    reason: str = "",
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
    _authenticate_witness(actor, clinic, witness, witness_password, "witness", request)
    witnesses = [witness]
    if second_witness is not None:
        _authenticate_second_witness(actor, clinic, witness, second_witness, second_witness_password, request)
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
    actor: Any,
    session: Any,
    lot: Lot,
    quantity: Decimal | str,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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


def do_return_to_supplier(
    *,
    actor: Any,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    supplier: Supplier,
    reason: str = "",
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
    actor: Any,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    method: str,
    witness: Any,
    witness_password: str | WitnessSignature | None,
    second_witness: Any,
    second_witness_password: str | WitnessSignature | None,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
    _authenticate_witness(actor, clinic, witness, witness_password, "witness", request)
    _authenticate_second_witness(actor, clinic, witness, second_witness, second_witness_password, request)
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


def do_record_count(
    *,
    actor: Any,
    lot: Lot,
    location: StorageLocation,
    counted: Decimal | str,
    kind: str = "routine",
    timing: str = "",
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
                action="ledger.case.open",
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
    actor: Any,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    reason: str,
    case: Case | None = None,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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


def do_report_theft_loss(
    *,
    actor: Any,
    lot: Lot,
    location: StorageLocation,
    quantity: Decimal | str,
    description: str,
    discovered_on: dt.date | None = None,
    case: Case | None = None,
    occurred_at: dt.datetime | None = None,
    request: Any = None,
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
            action="ledger.case.open",
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


def _close_case(actor: Any, case: Case, entry: LedgerEntry | None, resolution: str, request: Any) -> None:
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
        action="ledger.case.resolve",
        obj=locked,
        clinic=locked.clinic,
        request=request,
        detail={"resolution": resolution},
    )
    case.status = locked.status


def do_resolve_case(*, actor: Any, case: Case, resolution: str, request: Any = None) -> Case:
    """Close a case with a written resolution (e.g. a recount found the stock)."""
    _require_mover(actor, case.clinic)
    if not resolution.strip():
        raise ValidationFailed({"resolution": ["is required"]})
    with transaction.atomic():
        _close_case(actor, case, None, resolution.strip(), request)
    case.refresh_from_db()
    return case


def do_complete_deadline(
    *, actor: Any, deadline: CaseDeadline, reference: str = "", request: Any = None
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
            action="ledger.deadline.complete",
            obj=locked,
            clinic=locked.case.clinic,
            request=request,
            detail={"code": locked.code, "reference": locked.reference},
        )
    return locked
