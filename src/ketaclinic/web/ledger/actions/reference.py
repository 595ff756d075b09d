"""Reference data of the ledger: products, suppliers and storage locations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger.actions.common import _quantity, _require_mover
from ketaclinic.web.ledger.models import (
    Drug,
    Product,
    StorageLocation,
    Supplier,
    Unit,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


def do_create_product(
    *,
    actor: User,
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
    request: HttpRequest | None = None,
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
        record_audit(
            actor=actor, action=AuditAction.LEDGER_PRODUCT_CREATE, obj=product, clinic=clinic, request=request
        )
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
    actor: User,
    clinic: Clinic,
    name: str,
    address: str,
    registration_number: str,
    registration_expires_on: dt.date | None,
    request: HttpRequest | None = None,
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
            actor=actor,
            action=AuditAction.LEDGER_SUPPLIER_CREATE,
            obj=supplier,
            clinic=clinic,
            request=request,
        )
    return supplier


def do_create_location(
    *, actor: User, site: Site, name: str, request: HttpRequest | None = None
) -> StorageLocation:
    _require_mover(actor, site.clinic)
    if not name.strip():
        raise ValidationFailed({"name": ["is required"]})
    with transaction.atomic():
        if StorageLocation.objects.filter(site=site, name=name.strip()).exists():
            raise ValidationFailed({"name": ["this site already has a location with this name"]})
        loc = StorageLocation.objects.create(site=site, name=name.strip())
        record_audit(
            actor=actor,
            action=AuditAction.LEDGER_LOCATION_CREATE,
            obj=loc,
            clinic=site.clinic,
            request=request,
        )
    return loc
