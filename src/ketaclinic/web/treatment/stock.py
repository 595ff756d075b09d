"""Reads joining a dosing session to the controlled-substance ledger: what it may withdraw, what it holds, and
whether it reconciles (administered + wasted + returned = withdrawn, per lot). Writes are in actions.py."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from ketaclinic.web.lib.errors import ValidationFailed

if TYPE_CHECKING:
    from ketaclinic.web.ledger.models import Lot, Product
    from ketaclinic.web.ledger.selectors import BalanceRow
    from ketaclinic.web.treatment.models import DosingSession

ZERO = Decimal("0.000")


def fmt(q: Decimal) -> str:
    """A quantity without trailing zeros (10.000 → 10, 6.500 → 6.5)."""
    text = format(q.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _drug(session: DosingSession) -> str:
    return str(session.course.protocol_snapshot.get("drug") or (session.order.drug if session.order else ""))


def stock_setup_problem(session: DosingSession) -> str | None:
    """Why this session cannot be dosed for want of ledger stock, or None when something can be withdrawn.

    Decision (docs/clinical/dosing.md): every dose comes out of the ledger, so a session at a site without the
    drug in the ledger cannot be dosed; the custodian must set up the product and receive stock first.
    """
    from ketaclinic.web.ledger.selectors import products_for_drug, withdrawable_stock

    drug = _drug(session)
    site = session.site
    if site is None:
        return "the session has no site: schedule it at a site whose stock is kept in the ledger"
    if not products_for_drug(session.clinic, drug).exists():
        return (
            f"no {drug} product is set up in the controlled-substance ledger: the custodian must add the "
            f"product and receive stock (Controlled substances → Set up / Receive) before this session can be dosed"
        )
    if not withdrawable_stock(site, drug):
        return (
            f"no in-date {drug} stock at {site.name} in the controlled-substance ledger: the custodian must "
            f"receive or transfer stock to a storage location at {site.name} before this session can be dosed"
        )
    return None


def withdraw_options(session: DosingSession) -> list[BalanceRow]:
    """In-date lots of the session's drug with stock at the session's site (ledger BalanceRow)."""
    from ketaclinic.web.ledger.selectors import withdrawable_stock

    if session.site is None:
        return []
    return withdrawable_stock(session.site, _drug(session))


def default_withdraw_quantity(session: DosingSession, product: Product) -> Decimal:
    """The ordered dose in the product's unit: whole containers of a solution (single-dose vials: the unused
    remainder is wasted), whole devices/tablets otherwise."""
    if session.order is None:
        return product.container_size
    units = Decimal(session.order.dose_mg) / product.strength_mg_per_unit
    if product.unit == "mL":
        containers = max(1, math.ceil(units / product.container_size))
        return (product.container_size * containers).quantize(Decimal("0.001"))
    return Decimal(math.ceil(units)).quantize(Decimal("0.001"))


def units_for_dose(product: Product, dose_mg: Decimal) -> Decimal:
    """The quantity of `product` that carries `dose_mg`: a volume to 0.001 mL for solutions (rounded half up),
    a whole number of devices/tablets otherwise (ValidationFailed naming dose_mg when it is not)."""
    units = Decimal(dose_mg) / product.strength_mg_per_unit
    if product.unit == "mL":
        return units.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    if units != units.to_integral_value():
        raise ValidationFailed(
            {
                "dose_mg": [
                    f"{fmt(Decimal(dose_mg))} mg is not a whole number of {product.unit}s of "
                    f"{product.strength_label}"
                ]
            }
        )
    return units.quantize(Decimal("0.001"))


def holdings(session: DosingSession) -> list[tuple[Lot, Decimal]]:
    """(lot, quantity still held) for every lot the session withdrew."""
    from ketaclinic.web.ledger.selectors import session_holdings

    if session.pk is None:
        return []
    return session_holdings(str(session.pk))


@dataclass(frozen=True, slots=True)
class LotReconciliation:
    lot: Lot
    withdrawn: Decimal
    administered: Decimal
    wasted: Decimal
    returned: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.withdrawn - self.administered - self.wasted - self.returned

    @property
    def balanced(self) -> bool:
        return self.outstanding == 0

    @property
    def unit(self) -> str:
        return str(self.lot.product.unit)

    def text(self) -> str:
        u = self.unit
        return (
            f"lot {self.lot.lot_number}: withdrawn {fmt(self.withdrawn)} {u}, administered "
            f"{fmt(self.administered)} {u}, wasted {fmt(self.wasted)} {u}, returned {fmt(self.returned)} {u}"
        )


def reconciliation(session: DosingSession) -> list[LotReconciliation]:
    """The ledger's session reconciliation (`ledger.selectors.session_reconciliation`), with lot objects."""
    from ketaclinic.web.ledger.models import Lot
    from ketaclinic.web.ledger.selectors import session_reconciliation

    if session.pk is None:
        return []
    rows = session_reconciliation(str(session.pk))
    lots = Lot.objects.select_related("product").in_bulk([int(r.lot) for r in rows])
    return [
        LotReconciliation(lots[int(r.lot)], r.withdrawn, r.administered, r.wasted, r.returned) for r in rows
    ]


def reconciliation_problems(session: DosingSession) -> list[str]:
    """Why the session does not reconcile (empty when every lot balances). A session that gave a dose must
    have drawn it from the ledger."""
    rows = reconciliation(session)
    out: list[str] = []
    if not rows and session.administrations.exists():
        out.append("no withdrawal is recorded in the controlled-substance ledger for the doses given")
    for r in rows:
        if r.outstanding > 0:
            out.append(
                f"{r.text()}: {fmt(r.outstanding)} {r.unit} is unaccounted for — waste the remainder with a "
                f"witness (or return unopened stock) before discharge"
            )
        elif r.outstanding < 0:
            out.append(f"{r.text()}: {fmt(-r.outstanding)} {r.unit} more accounted for than withdrawn")
    return out
