"""Reads of the controlled-substance ledger: balances (computed from the entries), chain verification,
reconciliation, dashboard data and registers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case as DbCase
from django.db.models import DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ketaclinic.core.ledger import (
    ChainHead,
    EntryType,
    Register,
    RegisterLine,
    SessionReconciliation,
    Verification,
    build_register,
    jurisdiction,
    next_inventory_due,
    reconcile_session,
    stock_balances,
    verify,
)
from ketaclinic.core.ledger import LedgerEntry as CoreEntry
from ketaclinic.core.ledger.entries import LOCATION_SIGN, SESSION_SIGN
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger.models import Case, CaseDeadline, LedgerEntry, Lot, Product, StorageLocation
from ketaclinic.web.ledger.models import ChainHead as HeadRow

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

ZERO = Decimal("0.000")
_DEC: DecimalField[Decimal, Decimal] = DecimalField(max_digits=20, decimal_places=3)


def core_entry(row: LedgerEntry) -> CoreEntry:
    """The hashed form of a stored entry. Every column that carries meaning is included."""
    detail = {str(k): str(v) for k, v in (row.detail or {}).items()}
    detail["site_id"] = str(row.site_id)
    if row.supplier_id is not None:
        detail["supplier_id"] = str(row.supplier_id)
    return CoreEntry(
        seq=row.seq,
        entry_type=EntryType(row.entry_type),
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        clinic=str(row.clinic_id),
        product=str(row.product_id),
        lot=str(row.lot_id),
        quantity=row.quantity,
        actor=str(row.actor_id),
        location=None if row.location_id is None else str(row.location_id),
        to_location=None if row.to_location_id is None else str(row.to_location_id),
        session=row.session_ref or None,
        patient=None if row.patient_id is None else str(row.patient_id),
        witnesses=tuple(str(w) for w in (row.witness_1_id, row.witness_2_id) if w is not None),
        reason=row.reason,
        expected_quantity=row.expected_quantity,
        detail=tuple(sorted(detail.items())),
        prev_hash=row.prev_hash,
        hash=row.hash,
        ref=str(row.pk or ""),
    )


def lock_chain() -> HeadRow:
    """Lock the chain head for the rest of the transaction: every ledger write takes this lock first, so
    balance checks and chain insertion are serialised (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the
    IMMEDIATE transaction already holds the write lock)."""
    head = HeadRow.objects.select_for_update().filter(pk=1).first()
    if head is None:
        HeadRow.objects.get_or_create(pk=1)
        head = HeadRow.objects.select_for_update().get(pk=1)
    return head


# --- balances (SQL aggregates mirroring LedgerEntry.location_delta / session_delta in core) ---------


def _location_delta_expr() -> DbCase:
    whens = [
        When(entry_type=int(EntryType.WASTE), session_ref__gt="", then=Value(ZERO)),
    ]
    for t, sign in LOCATION_SIGN.items():
        if sign:
            whens.append(When(entry_type=int(t), then=F("quantity") * Value(Decimal(sign))))
    return DbCase(*whens, default=Value(ZERO), output_field=_DEC)


def _exact_sums() -> bool:
    """SQLite sums decimals in floating point (1 - 0.7 - 0.3 != 0): there, sum in Python with Decimal."""
    return connection.vendor == "postgresql"


def location_balance(*, lot: Lot, location: StorageLocation) -> Decimal:
    """Book balance of `lot` at `location` (exact decimal arithmetic on every database)."""
    if _exact_sums():
        out = LedgerEntry.objects.filter(lot=lot, location=location).aggregate(
            s=Coalesce(Sum(_location_delta_expr()), Value(ZERO), output_field=_DEC)
        )["s"]
        inbound = LedgerEntry.objects.filter(
            lot=lot, to_location=location, entry_type=int(EntryType.TRANSFER)
        ).aggregate(s=Coalesce(Sum("quantity"), Value(ZERO), output_field=_DEC))["s"]
        return Decimal(out) + Decimal(inbound)
    total = ZERO
    rows = LedgerEntry.objects.filter(lot=lot).filter(Q(location=location) | Q(to_location=location))
    for t, q, session_ref, loc_id, to_id in rows.values_list(
        "entry_type", "quantity", "session_ref", "location_id", "to_location_id"
    ):
        kind = EntryType(t)
        if loc_id == location.pk and not (kind is EntryType.WASTE and session_ref):
            total += LOCATION_SIGN[kind] * q
        if kind is EntryType.TRANSFER and to_id == location.pk:
            total += q
    return total


def session_balance(*, session_ref: str, lot: Lot) -> Decimal:
    """What a session still holds of `lot` (withdrawn minus administered, wasted and returned)."""
    rows = LedgerEntry.objects.filter(session_ref=session_ref, lot=lot).values_list("entry_type", "quantity")
    return sum((SESSION_SIGN.get(EntryType(t), 0) * q for t, q in rows), ZERO)


def session_origin(*, session_ref: str, lot: Lot) -> StorageLocation | None:
    """Where the session's stock of `lot` came from (its latest withdrawal)."""
    row = (
        LedgerEntry.objects.filter(session_ref=session_ref, lot=lot, entry_type=int(EntryType.WITHDRAWAL))
        .select_related("location__site")
        .order_by("-seq")
        .first()
    )
    return None if row is None else row.location


@dataclass(frozen=True, slots=True)
class BalanceRow:
    product: Product
    lot: Lot
    location: StorageLocation
    quantity: Decimal

    @property
    def mg(self) -> Decimal:
        return self.product.mg(self.quantity)

    @property
    def containers(self) -> Decimal:
        return self.quantity / self.product.container_size


def balances_for_clinic(
    clinic: Clinic, *, site: Site | None = None, include_zero: bool = False
) -> list[BalanceRow]:
    """Balance per (product, lot, location) in a clinic, from one pass over its entries."""
    entries = LedgerEntry.objects.filter(clinic=clinic)
    if site is not None:
        entries = entries.filter(Q(location__site=site) | Q(to_location__site=site))
    core = [core_entry(e) for e in entries.order_by("seq")]
    totals = stock_balances(core)
    lots = {str(lot.pk): lot for lot in Lot.objects.filter(product__clinic=clinic).select_related("product")}
    locs = {
        str(loc.pk): loc for loc in StorageLocation.objects.filter(site__clinic=clinic).select_related("site")
    }
    rows = [
        BalanceRow(lots[k.lot].product, lots[k.lot], locs[k.location], q)
        for k, q in totals.items()
        if (include_zero or q != 0)
        and k.location in locs
        and (site is None or locs[k.location].site_id == site.pk)
    ]
    rows.sort(
        key=lambda r: (r.product.name, r.product.pk, r.lot.expires_on, r.lot.lot_number, r.location.name)
    )
    return rows


def product_totals(rows: Iterable[BalanceRow]) -> list[tuple[Product, Decimal]]:
    totals: dict[int, tuple[Product, Decimal]] = {}
    for r in rows:
        p, q = totals.get(r.product.pk, (r.product, ZERO))
        totals[r.product.pk] = (p, q + r.quantity)
    return list(totals.values())


# --- verification ------------------------------------------------------------------------------------


def iter_core_entries(batch: int = 2000) -> Iterator[CoreEntry]:
    """All entries in storage order (primary key), as hashed."""
    for row in LedgerEntry.objects.order_by("id").iterator(chunk_size=batch):
        yield core_entry(row)


def chain_verify() -> Verification:
    """Recompute the whole chain against the stored head; names the first altered, removed or reordered entry."""
    head = HeadRow.objects.filter(pk=1).first()
    return verify(iter_core_entries(), head=None if head is None else ChainHead(head.seq, head.hash))


def clinic_chain_verify(clinic: Clinic) -> dict[str, Any]:
    """Verify one clinic's entries without revealing anything of other clinics' (count, head, problems).

    Each of the clinic's entries must still match its own hash, and its link must still match the stored hash
    of the entry before it (whoever's it is: only the two hash strings are compared, nothing else is read).
    The whole chain, every clinic's, is verified by the operator with `ketaclinic ledger verify`.
    """
    from ketaclinic.core.ledger import entry_hash

    rows = list(LedgerEntry.objects.filter(clinic=clinic).order_by("seq"))
    wanted = [r.seq - 1 for r in rows if r.seq > 1]
    prev_hashes = dict(LedgerEntry.objects.filter(seq__in=wanted).values_list("seq", "hash"))
    for position, row in enumerate(rows, start=1):
        problem = message = ""
        if entry_hash(core_entry(row)) != row.hash:
            problem, message = "altered", f"entry {row.seq} no longer matches its hash"
        elif row.seq > 1 and row.seq - 1 not in prev_hashes:
            problem, message = "removed", f"the entry before entry {row.seq} is missing"
        elif row.seq > 1 and prev_hashes[row.seq - 1] != row.prev_hash:
            problem, message = "broken_link", f"entry {row.seq} no longer follows the entry before it"
        if problem:
            return {
                "ok": False,
                "entries": len(rows),
                "first_bad": {"seq": row.seq, "position": position, "problem": problem, "message": message},
            }
    return {"ok": True, "entries": len(rows), "first_bad": None}


# --- reconciliation and dashboard --------------------------------------------------------------------


def session_reconciliation(session_ref: str) -> list[SessionReconciliation]:
    return reconcile_session(
        (core_entry(e) for e in LedgerEntry.objects.filter(session_ref=session_ref).order_by("seq")),
        session_ref,
    )


@dataclass(frozen=True, slots=True)
class OpenSession:
    session_ref: str
    patient: Patient | None
    lot: Lot
    withdrawn: Decimal
    outstanding: Decimal
    withdrawn_at: dt.datetime


def unreconciled_sessions(clinic: Clinic) -> list[OpenSession]:
    """Sessions whose withdrawals are not fully accounted for by administration, waste and return."""
    sums: dict[tuple[str, int], list[Decimal]] = {}
    rows = LedgerEntry.objects.filter(
        clinic=clinic, session_ref__gt="", entry_type__in=[int(t) for t in SESSION_SIGN]
    )
    for ref, lot_id, t, q in rows.values_list("session_ref", "lot_id", "entry_type", "quantity").iterator():
        bucket = sums.setdefault((ref, lot_id), [ZERO, ZERO])
        kind = EntryType(t)
        bucket[0] += SESSION_SIGN[kind] * q
        if kind is EntryType.WITHDRAWAL:
            bucket[1] += q
    out: list[OpenSession] = []
    for (ref, lot_id), (outstanding, withdrawn) in sums.items():
        if outstanding == 0:
            continue
        first = (
            LedgerEntry.objects.filter(session_ref=ref, lot_id=lot_id, entry_type=int(EntryType.WITHDRAWAL))
            .select_related("patient", "lot__product")
            .order_by("seq")
            .first()
        )
        if first is None:
            continue
        out.append(OpenSession(ref, first.patient, first.lot, withdrawn, outstanding, first.occurred_at))
    out.sort(key=lambda s: s.withdrawn_at)
    return out


def open_cases(clinic: Clinic) -> QuerySet[Case]:
    return (
        Case.objects.filter(clinic=clinic, status=Case.Status.OPEN)
        .select_related("product", "lot", "location", "site", "opening_entry")
        .prefetch_related("deadlines")
        .order_by("opened_at")
    )


def pending_deadlines(clinic: Clinic) -> QuerySet[CaseDeadline]:
    return (
        CaseDeadline.objects.filter(case__clinic=clinic, completed_at__isnull=True)
        .select_related("case", "case__lot", "case__site")
        .order_by("due_on")
    )


@dataclass(frozen=True, slots=True)
class InventoryStatus:
    site: Site
    last_on: dt.date | None
    due_on: dt.date | None
    overdue: bool


def inventory_status(clinic: Clinic) -> list[InventoryStatus]:
    """Per site: last initial/biennial inventory and when the next is due (US: within 2 years)."""
    out: list[InventoryStatus] = []
    today = timezone.localdate()
    for site in Site.objects.filter(clinic=clinic).order_by("name"):
        last = (
            LedgerEntry.objects.filter(
                site=site, entry_type=int(EntryType.COUNT), detail__kind__in=["initial", "biennial"]
            )
            .order_by("-occurred_at")
            .first()
        )
        last_on = None if last is None else timezone.localtime(last.occurred_at, _tz(site)).date()
        rules = jurisdiction(site.jurisdiction)
        if last is None and not LedgerEntry.objects.filter(site=site).exists():
            due = None  # not yet dispensing
        else:
            due = next_inventory_due(last_on, rules)
        out.append(InventoryStatus(site, last_on, due, due is not None and due <= today))
    return out


def _tz(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def entries_for_clinic(
    clinic: Clinic, *, product: Product | None = None, limit: int = 200
) -> QuerySet[LedgerEntry]:
    qs = LedgerEntry.objects.filter(clinic=clinic).select_related(
        "product", "lot", "location", "to_location", "patient", "actor", "witness_1", "witness_2", "supplier"
    )
    if product is not None:
        qs = qs.filter(product=product)
    return qs.order_by("-seq")[:limit]


def entries_filtered(
    clinic: Clinic,
    *,
    entry_type: int | None = None,
    product_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[LedgerEntry]:
    """The clinic's ledger entries, newest first, filtered by type, product and a range of days (unsliced)."""
    qs = LedgerEntry.objects.filter(clinic=clinic).select_related(
        "product", "lot", "location", "to_location", "patient", "actor", "witness_1", "witness_2", "supplier"
    )
    if entry_type is not None:
        qs = qs.filter(entry_type=entry_type)
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if since is not None:
        qs = qs.filter(occurred_at__date__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__date__lte=until)
    return qs.order_by("-seq")


def clinic_products(clinic: Clinic) -> QuerySet[Product]:
    """Every product of the clinic (active or not), by name, for filters."""
    return Product.objects.filter(clinic=clinic).order_by("name", "pk")


# --- registers ---------------------------------------------------------------------------------------


def _person(user: Any) -> str:
    if user is None:
        return ""
    name = str(user)
    pid = getattr(user, "professional_id", "")
    return f"{name} ({pid})" if pid else name


def _patient_name(p: Any) -> str:
    return "" if p is None else f"{p.family_name}, {p.given_name} (MRN {p.mrn})"


def _patient_address(p: Any) -> str:
    if p is None:
        return ""
    return ", ".join(x for x in (p.address_line, p.city, p.postal_code) if x)


def register_for(
    *, site: Site, product: Product, start: dt.datetime, end: dt.datetime, include_internal: bool = False
) -> Register:
    """The register of one drug/form/strength at one site in the site's jurisdiction's format."""
    rules = jurisdiction(site.jurisdiction)
    scope_locs = list(StorageLocation.objects.filter(site=site))
    scope = frozenset(str(loc.pk) for loc in scope_locs)
    rows = (
        LedgerEntry.objects.filter(product=product)
        .filter(Q(location__site=site) | Q(to_location__site=site))
        .select_related(
            "lot",
            "patient",
            "actor",
            "witness_1",
            "witness_2",
            "supplier",
            "to_location__site",
            "location__site",
        )
        .order_by("seq")
    )
    lines: list[RegisterLine] = []
    for r in rows:
        t = EntryType(r.entry_type)
        counterparty = ""
        if r.supplier is not None:
            reg = f", reg. {r.supplier.registration_number}" if r.supplier.registration_number else ""
            counterparty = f"{r.supplier.name}, {r.supplier.address}{reg}"
        elif t is EntryType.ADMINISTRATION:
            counterparty = _patient_name(r.patient)
        elif t is EntryType.TRANSFER and r.to_location is not None:
            counterparty = f"to {r.to_location.name}, {r.to_location.site.name}"
            if r.to_location.site_id == site.pk and r.location is not None and r.location.site_id != site.pk:
                counterparty = f"from {r.location.name}, {r.location.site.name}"
        witnesses = "; ".join(_person(w) for w in (r.witness_1, r.witness_2) if w is not None)
        lines.append(
            RegisterLine(
                entry=core_entry(r),
                lot_label=f"{r.lot.lot_number} exp {r.lot.expires_on.isoformat()}",
                patient_name=_patient_name(r.patient) if t is EntryType.ADMINISTRATION else "",
                patient_address=_patient_address(r.patient) if t is EntryType.ADMINISTRATION else "",
                counterparty=counterparty,
                authority=(r.detail or {}).get("prescriber", ""),
                person=_person(r.actor),
                witness=witnesses,
            )
        )
    return build_register(
        lines,
        rules=rules,
        heading=product.heading,
        unit=product.unit,
        scope=scope,
        start=start,
        end=end,
        tz=_tz(site),
        include_internal=include_internal,
    )


@dataclass(frozen=True, slots=True)
class InventoryLine:
    product: Product
    lot: Lot
    location: StorageLocation
    counted: Decimal
    expected: Decimal | None
    containers: Decimal
    counted_at: dt.datetime
    kind: str
    timing: str
    counted_by: str


def inventory_for(
    *, site: Site, start: dt.datetime, end: dt.datetime, kinds: tuple[str, ...] = ("initial", "biennial")
) -> list[InventoryLine]:
    """Inventory counts (US initial/biennial) recorded at a site in [start, end)."""
    rows = (
        LedgerEntry.objects.filter(
            site=site,
            entry_type=int(EntryType.COUNT),
            occurred_at__gte=start,
            occurred_at__lt=end,
            detail__kind__in=list(kinds),
        )
        .select_related("product", "lot", "location", "actor")
        .order_by("product__name", "lot__lot_number", "location__name", "seq")
    )
    return [
        InventoryLine(
            product=r.product,
            lot=r.lot,
            location=r.location,
            counted=r.quantity,
            expected=r.expected_quantity,
            containers=r.quantity / r.product.container_size,
            counted_at=r.occurred_at,
            kind=r.detail.get("kind", ""),
            timing=r.detail.get("timing", ""),
            counted_by=_person(r.actor),
        )
        for r in rows
        if r.location is not None  # a count is always at a location; the column serves other entry types
    ]


# --- for the treatment app's dosing sessions ---------------------------------------------------------


def products_for_drug(clinic: Clinic, drug: str) -> QuerySet[Product]:
    """The clinic's active ledger products of `drug` (ketamine or esketamine)."""
    return Product.objects.filter(clinic=clinic, drug=drug, is_active=True)


def withdrawable_stock(site: Site, drug: str, *, on: dt.date | None = None) -> list[BalanceRow]:
    """What a dosing session at `site` may withdraw: in-date lots of the clinic's `drug` products with stock
    (balance > 0) in the site's active storage locations, soonest expiry first."""
    on = on or timezone.localdate()
    rows = [
        r
        for r in balances_for_clinic(site.clinic, site=site)
        if r.product.drug == drug
        and r.product.is_active
        and r.location.is_active
        and r.quantity > 0
        and r.lot.expires_on >= on
    ]
    rows.sort(key=lambda r: (r.lot.expires_on, r.product.name, r.lot.lot_number, r.location.name))
    return rows


def session_holdings(session_ref: str) -> list[tuple[Lot, Decimal]]:
    """(lot, quantity the session still holds) for every lot the session withdrew, in withdrawal order."""
    lot_ids: list[int] = []
    for lot_id in (
        LedgerEntry.objects.filter(session_ref=session_ref, entry_type=int(EntryType.WITHDRAWAL))
        .order_by("seq")
        .values_list("lot_id", flat=True)
    ):
        if lot_id not in lot_ids:
            lot_ids.append(lot_id)
    lots = Lot.objects.select_related("product").in_bulk(lot_ids)
    return [(lots[i], session_balance(session_ref=session_ref, lot=lots[i])) for i in lot_ids]
