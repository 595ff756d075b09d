"""Controlled-substance ledger entries: the stable entry-type codes, the entry record and how each moves stock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first entry of a chain."""


class EntryType(IntEnum):
    """Kinds of ledger entry. The integer codes are stored and hashed: never renumber, only append."""

    RECEIPT = 1
    """Stock received from a registered supplier into a storage location."""
    TRANSFER = 2
    """Stock moved from one storage location to another."""
    WITHDRAWAL = 3
    """Stock taken out of storage for a dosing session (into the session's custody)."""
    ADMINISTRATION = 4
    """Quantity given to the session's patient, out of the session's custody."""
    WASTE = 5
    """Unused remainder destroyed in front of a witness (from a session), or breakage/spillage (from storage)."""
    RETURN_TO_STOCK = 6
    """Unopened withdrawn stock put back into storage."""
    RETURN_TO_SUPPLIER = 7
    """Stock sent back to the supplier or a reverse distributor."""
    DESTRUCTION = 8
    """Expired or unwanted stock destroyed on site in front of two witnesses."""
    COUNT = 9
    """A physical count (routine, initial or biennial inventory): expected vs counted; moves nothing."""
    ADJUSTMENT = 10
    """A correction of the book balance with a stated reason (signed quantity)."""
    THEFT_LOSS = 11
    """Theft or loss reported: removes the missing quantity from the book balance and opens a case."""

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[EntryType, str] = {
    EntryType.RECEIPT: "Receipt",
    EntryType.TRANSFER: "Transfer",
    EntryType.WITHDRAWAL: "Withdrawal for session",
    EntryType.ADMINISTRATION: "Administration",
    EntryType.WASTE: "Waste",
    EntryType.RETURN_TO_STOCK: "Return to stock",
    EntryType.RETURN_TO_SUPPLIER: "Return to supplier",
    EntryType.DESTRUCTION: "Destruction",
    EntryType.COUNT: "Count",
    EntryType.ADJUSTMENT: "Adjustment",
    EntryType.THEFT_LOSS: "Theft or loss",
}

# How each entry type moves a quantity q. LOCATION_SIGN applies to `location`, SESSION_SIGN to the session's
# custody; TRANSFER also adds q to `to_location`. WASTE takes from the session when it names one, otherwise
# from the location (breakage). ADJUSTMENT carries a signed quantity. COUNT moves nothing.
LOCATION_SIGN: dict[EntryType, int] = {
    EntryType.RECEIPT: 1,
    EntryType.TRANSFER: -1,
    EntryType.WITHDRAWAL: -1,
    EntryType.ADMINISTRATION: 0,
    EntryType.WASTE: -1,
    EntryType.RETURN_TO_STOCK: 1,
    EntryType.RETURN_TO_SUPPLIER: -1,
    EntryType.DESTRUCTION: -1,
    EntryType.COUNT: 0,
    EntryType.ADJUSTMENT: 1,
    EntryType.THEFT_LOSS: -1,
}
SESSION_SIGN: dict[EntryType, int] = {
    EntryType.WITHDRAWAL: 1,
    EntryType.ADMINISTRATION: -1,
    EntryType.WASTE: -1,
    EntryType.RETURN_TO_STOCK: -1,
}


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One immutable ledger entry, as hashed. Identifiers are opaque strings (the web layer's primary keys).

    `quantity` is in the product's dispensing unit (mL, device, tablet...), never negative except for
    ADJUSTMENT. For COUNT, `quantity` is the counted quantity and `expected_quantity` the book balance.
    For ADMINISTRATION and session WASTE, `location` is the storage location the session's stock came
    from: it scopes registers to a site and moves no storage stock.
    `ref` is where the entry is stored (a row id); it is not hashed. `hash` is the entry's own hash.
    """

    seq: int
    entry_type: EntryType
    occurred_at: datetime
    recorded_at: datetime
    clinic: str
    product: str
    lot: str
    quantity: Decimal
    actor: str
    location: str | None = None
    to_location: str | None = None
    session: str | None = None
    patient: str | None = None
    witnesses: tuple[str, ...] = ()
    reason: str = ""
    expected_quantity: Decimal | None = None
    detail: tuple[tuple[str, str], ...] = ()
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    ref: str = field(default="", compare=False)

    def detail_dict(self) -> dict[str, str]:
        return dict(self.detail)

    def location_delta(self, location: str) -> Decimal:
        """Signed change this entry makes to (product, lot, `location`)."""
        delta = Decimal(0)
        if self.location == location:
            sign = LOCATION_SIGN[self.entry_type]
            if self.entry_type is EntryType.WASTE and self.session is not None:
                sign = 0
            delta += sign * self.quantity
        if self.entry_type is EntryType.TRANSFER and self.to_location == location:
            delta += self.quantity
        return delta

    def scope_delta(self, scope: frozenset[str]) -> Decimal:
        """Signed change to the stock held within a set of locations (storage plus sessions drawn from them).

        Internal movements (withdrawal, return to stock, transfer inside the scope) net to zero.
        """
        delta = Decimal(0)
        if self.location in scope:
            assert self.location is not None
            delta += self.location_delta(self.location) + self.session_delta()
            if self.entry_type is EntryType.TRANSFER and self.to_location == self.location:
                delta -= self.quantity
        if self.entry_type is EntryType.TRANSFER and self.to_location in scope:
            delta += self.quantity
        return delta

    def session_delta(self) -> Decimal:
        """Signed change this entry makes to its session's custody of (product, lot)."""
        if self.session is None:
            return Decimal(0)
        return SESSION_SIGN.get(self.entry_type, 0) * self.quantity
