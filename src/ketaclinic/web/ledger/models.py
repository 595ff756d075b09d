"""Controlled-substance stock (products, suppliers, lots, storage locations), the append-only hash-chained
ledger, its chain head, and the discrepancy cases with their reporting deadlines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.db import models

from ketaclinic.core.ledger import EntryType


class _QuantityDigits(TypedDict):
    max_digits: int
    decimal_places: int


QTY: _QuantityDigits = {"max_digits": 14, "decimal_places": 3}


class Drug(models.TextChoices):
    KETAMINE = "ketamine", "Ketamine"
    ESKETAMINE = "esketamine", "Esketamine"


class Unit(models.TextChoices):
    ML = "mL", "mL"
    DEVICE = "device", "device"
    TABLET = "tablet", "tablet"
    LOZENGE = "lozenge", "lozenge"


class Product(models.Model):
    """A controlled-substance product a clinic stocks, identified by NDC or a local code."""

    class CodeSystem(models.TextChoices):
        NDC = "ndc", "NDC"
        LOCAL = "local", "Local code"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="ledger_products")
    code_system = models.CharField(max_length=8, choices=CodeSystem.choices)
    code = models.CharField(max_length=32)
    drug = models.CharField(max_length=16, choices=Drug.choices)
    name = models.CharField(max_length=200, help_text="e.g. Ketamine hydrochloride injection")
    form = models.CharField(max_length=64, help_text="finished form, e.g. injection solution, nasal spray")
    strength_mg_per_unit = models.DecimalField(max_digits=10, decimal_places=3)
    unit = models.CharField(max_length=8, choices=Unit.choices)
    container_size = models.DecimalField(max_digits=10, decimal_places=3, help_text="units per container")
    container_label = models.CharField(max_length=32, default="vial")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["drug", "name", "strength_mg_per_unit"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "code_system", "code"], name="ledger_uniq_product_code"
            ),
            models.CheckConstraint(
                condition=models.Q(strength_mg_per_unit__gt=0), name="ledger_strength_pos"
            ),
            models.CheckConstraint(condition=models.Q(container_size__gt=0), name="ledger_container_pos"),
        ]

    def __str__(self) -> str:
        return self.heading

    @property
    def strength_label(self) -> str:
        per = "mL" if self.unit == Unit.ML else self.unit
        return f"{_num(self.strength_mg_per_unit)} mg/{per}"

    @property
    def heading(self) -> str:
        """Register heading: drug, form and strength, container."""
        return (
            f"{self.name}, {self.form}, {self.strength_label}, "
            f"{_num(self.container_size)} {self.unit} {self.container_label} ({self.get_code_system_display()} {self.code})"
        )

    def mg(self, quantity: Decimal) -> Decimal:
        return quantity * self.strength_mg_per_unit


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Supplier(models.Model):
    """A registered supplier; receipts are refused when its registration is missing or expired."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="ledger_suppliers")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300)
    registration_number = models.CharField(
        max_length=64, blank=True, help_text="DEA number, Home Office licence, S8 permit"
    )
    registration_expires_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="ledger_uniq_supplier_name")]

    def __str__(self) -> str:
        return self.name

    def registration_problem(self, on: dt.date) -> str | None:
        """Why a receipt from this supplier on `on` is refused, or None."""
        if not self.registration_number.strip():
            return f"supplier {self.name} has no registration number on file"
        if self.registration_expires_on is None:
            return f"supplier {self.name}'s registration has no expiry date on file"
        if self.registration_expires_on < on:
            return f"supplier {self.name}'s registration {self.registration_number} expired on {self.registration_expires_on.isoformat()}"
        return None


class Lot(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=64)
    expires_on = models.DateField()
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="lots", null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product_id", "expires_on", "lot_number"]
        constraints = [models.UniqueConstraint(fields=["product", "lot_number"], name="ledger_uniq_lot")]

    def __str__(self) -> str:
        return f"{self.lot_number} (exp {self.expires_on.isoformat()})"


class StorageLocation(models.Model):
    site = models.ForeignKey("clinics.Site", on_delete=models.PROTECT, related_name="storage_locations")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site_id", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="ledger_uniq_location")]

    def __str__(self) -> str:
        return f"{self.name} ({self.site.name})"


class ChainHead(models.Model):
    """The single row locked to serialise chain insertion; holds the last seq and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="ledger_single_head")]

    def __str__(self) -> str:
        return f"chain head #{self.seq}"


class LedgerEntry(models.Model):
    """One append-only, hash-chained ledger entry. Database triggers refuse UPDATE and DELETE."""

    seq = models.PositiveBigIntegerField(unique=True)
    entry_type = models.PositiveSmallIntegerField(choices=[(t.value, t.label) for t in EntryType])
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("clinics.Site", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    expected_quantity = models.DecimalField(**QTY, null=True)
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="+", null=True)
    to_location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="+", null=True)
    session_ref = models.CharField(
        max_length=40, blank=True, db_index=True, help_text="the dosing session's id, as hashed"
    )
    session = models.ForeignKey(
        "treatment.DosingSession", on_delete=models.PROTECT, related_name="ledger_entries", null=True
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+", null=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness_1 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    witness_2 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+", null=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["product", "lot", "location"], name="ledger_entry_bucket"),
            models.Index(fields=["to_location"], name="ledger_entry_to_loc"),
            models.Index(fields=["clinic", "occurred_at"], name="ledger_entry_clinic_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type.label} {self.quantity}"

    @property
    def type(self) -> EntryType:
        return EntryType(self.entry_type)


class Case(models.Model):
    """A discrepancy to resolve: a count that did not match, a theft or loss, or an unreconciled session."""

    class Kind(models.TextChoices):
        COUNT_DISCREPANCY = "count_discrepancy", "Count discrepancy"
        THEFT_LOSS = "theft_loss", "Theft or loss"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="ledger_cases")
    site = models.ForeignKey("clinics.Site", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    opening_entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="+")
    difference = models.DecimalField(**QTY, help_text="counted - expected (negative: missing)")
    discovered_on = models.DateField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    resolved_at = models.DateTimeField(null=True)
    resolving_entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        ordering = ["status", "-opened_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class CaseDeadline(models.Model):
    """A reporting deadline of a case (e.g. US written notice in 1 business day, DEA Form 106 in 45 days)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="deadlines")
    code = models.CharField(max_length=40)
    label = models.CharField(max_length=200)
    due_on = models.DateField()
    source = models.TextField()
    completed_at = models.DateTimeField(null=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    reference = models.CharField(
        max_length=100, blank=True, help_text="e.g. the Form 106 confirmation number"
    )

    class Meta:
        ordering = ["due_on", "code"]
        constraints = [models.UniqueConstraint(fields=["case", "code"], name="ledger_uniq_case_deadline")]

    def __str__(self) -> str:
        return f"{self.label} (due {self.due_on.isoformat()})"
