"""The session's controlled-substance custody: withdrawal, waste and return through the ledger actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction

from ketaclinic.web.lib.errors import ConflictError, ValidationFailed
from ketaclinic.web.treatment.actions.common import S, _aware, _require_status, _session_for_update
from ketaclinic.web.treatment.models import (
    DosingSession,
    Order,
)
from ketaclinic.web.treatment.selectors import course_protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def _ledger_errors(exc: ValidationFailed, rename: dict[str, str]) -> ValidationFailed:
    """The ledger's error with its fields renamed to this form's fields (nothing was stored)."""
    fields: dict[str, list[str]] = {}
    for k, reasons in exc.fields.items():
        fields.setdefault(rename.get(k, k), []).extend(reasons)
    return ValidationFailed(fields)


def _held_lot(session: DosingSession, *, lot_id: Any, lot_number: str, errors: dict[str, list[str]]) -> Any:
    """The ledger lot this dose comes from: one the session holds stock of (withdrawn and not yet used)."""
    from ketaclinic.web.treatment.stock import holdings, stock_setup_problem

    held = [(lot, q) for lot, q in holdings(session) if q > 0]
    if not held:
        problem = stock_setup_problem(session)
        errors.setdefault("lot", []).append(
            problem
            if problem is not None
            else "withdraw stock for this session from the controlled-substance ledger before recording a dose"
        )
        return None
    chosen = held
    if lot_id not in (None, ""):
        chosen = [(lot, q) for lot, q in held if str(lot.pk) == str(lot_id)]
    elif (lot_number or "").strip():
        chosen = [(lot, q) for lot, q in held if lot.lot_number == lot_number.strip()]
    labels = ", ".join(lot.lot_number for lot, _ in held)
    if not chosen:
        errors.setdefault("lot", []).append(f"the session holds stock of lot {labels} only")
        return None
    if len(chosen) > 1:
        errors.setdefault("lot", []).append(f"the session holds several lots ({labels}): choose one")
        return None
    return chosen[0][0]


def _ledger_administration(
    actor: User,
    session: DosingSession,
    order: Order,
    lot: Any,
    dose: Decimal,
    when: dt.datetime,
    request: HttpRequest | None,
) -> Any:
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.treatment.stock import units_for_dose

    quantity = units_for_dose(lot.product, dose)
    try:
        return ledger.do_record_administration(
            actor=actor,
            session=session,
            lot=lot,
            quantity=quantity,
            prescriber=order.signed_by,
            occurred_at=when,
            request=request,
        )
    except ValidationFailed as exc:
        raise _ledger_errors(exc, {"quantity": "dose_mg", "occurred_at": "administered_at"}) from None


def do_withdraw_stock(
    *,
    actor: User,
    session_id: int,
    lot_id: Any,
    location_id: Any,
    quantity: Any = None,
    occurred_at: Any = None,
    request: HttpRequest | None = None,
) -> Any:
    """Withdraw stock for this session from a storage location at its site (ledger withdrawal entry).

    The lot must be an in-date lot of the protocol's drug with stock at that location; `quantity` (in the
    product's unit) defaults to the ordered dose in whole containers (solutions) or whole devices/tablets.
    """
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.ledger.models import Lot, StorageLocation
    from ketaclinic.web.treatment.stock import default_withdraw_quantity, stock_setup_problem

    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.PRE_DOSE_CHECKS, S.DOSING, doing="withdraw stock")
        errors: dict[str, list[str]] = {}
        problem = stock_setup_problem(session)
        if problem is not None:
            raise ValidationFailed({"lot": [problem]})
        protocol = course_protocol(session.course)
        lot_pk = _int_or_none(lot_id)
        lot = None if lot_pk is None else Lot.objects.select_related("product").filter(pk=lot_pk).first()
        location_pk = _int_or_none(location_id)
        location = (
            None
            if location_pk is None
            else StorageLocation.objects.select_related("site").filter(pk=location_pk).first()
        )
        if lot is None or lot.product.clinic_id != session.clinic_id:
            errors["lot"] = ["choose a lot of this clinic's stock"]
        elif lot.product.drug != protocol.drug:
            errors["lot"] = [
                f"lot {lot.lot_number} is {lot.product.drug}; this session's protocol gives {protocol.drug}"
            ]
        if location is None or location.site.clinic_id != session.clinic_id:
            errors["location"] = ["choose a storage location of this clinic"]
        elif session.site_id is not None and location.site_id != session.site_id:
            errors["location"] = [f"{location.name} is at {location.site.name}, not at this session's site"]
        when = _aware(occurred_at, "occurred_at", errors)
        if errors:
            raise ValidationFailed(errors)
        assert lot is not None and location is not None
        if quantity in (None, ""):
            quantity = default_withdraw_quantity(session, lot.product)
        try:
            entry = ledger.do_withdraw_for_session(
                actor=actor,
                session=session,
                lot=lot,
                location=location,
                quantity=quantity,
                occurred_at=when,
                request=request,
            )
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None
    return entry


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def do_waste_remainder(
    *,
    actor: User,
    session_id: int,
    witness_id: Any,
    witness_password: str,
    witness_code: str = "",
    reason: str = "",
    occurred_at: Any = None,
    request: HttpRequest | None = None,
) -> list[Any]:
    """Waste everything the session still holds (per lot) in front of a witness who re-enters their password.

    One ledger waste entry per lot, all in one transaction. Refused when nothing is left to waste.
    """
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.treatment.stock import holdings

    # The witness signs outside the writing transaction: a failed attempt must stay counted toward the
    # witness's lockout and audited even though the waste is then refused (and rolled back).
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="waste the remainder")
    wid = _int_or_none(witness_id)
    witness = User.objects.filter(pk=wid).first() if wid is not None else None
    signature = None
    if witness is not None:
        try:
            signature = ledger.authenticate_witness(
                actor=actor,
                clinic=session.clinic,
                witness=witness,
                password=witness_password,
                request=request,
                code=witness_code,
            )
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None
    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(session, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="waste the remainder")
        errors: dict[str, list[str]] = {}
        held = [(lot, q) for lot, q in holdings(session) if q > 0]
        if not held:
            errors["waste"] = ["the session holds no stock: nothing to waste"]
        if witness is None:
            errors["witness"] = ["choose the witness"]
        when = _aware(occurred_at, "occurred_at", errors)
        if errors:
            raise ValidationFailed(errors)
        entries = []
        try:
            for lot, q in held:
                entries.append(
                    ledger.do_record_waste(
                        actor=actor,
                        lot=lot,
                        quantity=q,
                        witness=witness,
                        witness_password=signature,
                        session=session,
                        reason=(reason or "").strip() or "unused remainder of the session's withdrawal",
                        occurred_at=when,
                        request=request,
                    )
                )
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None
    return entries


def do_return_unused_stock(*, actor: User, session_id: int, request: HttpRequest | None = None) -> list[Any]:
    """Put unopened stock the session still holds back where it came from (e.g. before cancelling)."""
    from ketaclinic.web.ledger import actions as ledger
    from ketaclinic.web.treatment.stock import holdings

    with transaction.atomic():
        session = _session_for_update(actor, session_id)
        _require_status(
            session, S.PRE_DOSE_CHECKS, S.DOSING, S.MONITORING, S.DISCHARGE_READY, doing="return stock"
        )
        held = [(lot, q) for lot, q in holdings(session) if q > 0]
        if not held:
            raise ValidationFailed({"return": ["the session holds no stock: nothing to return"]})
        try:
            return [
                ledger.do_return_to_stock(actor=actor, session=session, lot=lot, quantity=q, request=request)
                for lot, q in held
            ]
        except ValidationFailed as exc:
            raise _ledger_errors(exc, {}) from None


def _refuse_unreconciled(session: DosingSession, doing: str) -> None:
    from ketaclinic.web.treatment.stock import reconciliation_problems

    problems = reconciliation_problems(session)
    if problems:
        raise ConflictError(
            f"cannot {doing}: the session does not reconcile with the controlled-substance ledger: "
            + "; ".join(problems),
            fields={"ledger": problems},
        )
