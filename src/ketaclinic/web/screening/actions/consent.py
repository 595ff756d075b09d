"""Consent: the approvals data (indications and products), off-label notices and signed consent records."""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.screening.models import Consent

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User


@functools.cache
def approvals() -> dict[str, Any]:
    text = (
        resources.files("ketaclinic.web.screening")
        .joinpath("data", "approvals.yaml")
        .read_text(encoding="utf-8")
    )
    data = yaml.safe_load(text)
    validate_approvals(data)
    checked: dict[str, Any] = data  # a mapping, as validate_approvals has just checked
    return checked


def validate_approvals(data: Any) -> None:
    """Fail loudly on a malformed approvals file: every approval lists known indications and has a source."""
    if not isinstance(data, dict) or not isinstance(data.get("products"), dict) or not data.get("version"):
        raise ValueError("approvals.yaml: version and products required")
    known = data.get("indications")
    if not isinstance(known, dict) or not known:
        raise ValueError("approvals.yaml: indications required")
    for pid, prod in data["products"].items():
        if not isinstance(prod, dict) or not prod.get("label") or not isinstance(prod.get("approvals"), dict):
            raise ValueError(f"approvals.yaml: products.{pid}: label and approvals required")
        for country, ap in prod["approvals"].items():
            where = f"approvals.yaml: products.{pid}.approvals.{country}"
            if country not in ("US", "UK", "AU"):
                raise ValueError(f"{where}: country must be US, UK or AU")
            if not isinstance(ap, dict) or not isinstance(ap.get("indications"), list):
                raise ValueError(f"{where}: indications list required")
            unknown = [i for i in ap["indications"] if i not in known]
            if unknown:
                raise ValueError(f"{where}: unknown indications {unknown}")
            if not str(ap.get("source") or "").strip():
                raise ValueError(f"{where}: source required")


def off_label_notice(*, indication: str, product: str, country: str) -> tuple[bool, str]:
    data = approvals()
    prod = data["products"][product]
    ind_label = data["indications"][indication]
    approval = prod["approvals"].get(country)
    if approval is None:
        return True, (
            f"The approval status of {prod['label']} in {country} is not on file: treat the use for "
            f"{ind_label.lower()} as off-label until verified."
        )
    if indication in approval["indications"]:
        return False, ""
    return True, (
        f"{prod['label']} is not approved in {country} for {ind_label.lower()}: this use is off-label. "
        f"Source: {approval['source']}"
    )


def do_record_consent(
    *,
    actor: User,
    patient_id: int,
    indication: str,
    product: str,
    course_ref: str = "",
    patient_acknowledged_off_label: bool = False,
    request: HttpRequest | None = None,
) -> Consent:
    """Record informed consent for a course; an off-label use needs the patient's acknowledgement of the notice."""
    data = approvals()
    errors: dict[str, list[str]] = {}
    if indication not in data["indications"]:
        errors["indication"] = [f"must be one of {', '.join(data['indications'])}"]
    if product not in data["products"]:
        errors["product"] = [f"must be one of {', '.join(data['products'])}"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = access_patient_by_id(
            actor, patient_id, perm=Perm.COURSE_MANAGE, audit_action=None, request=request, for_update=True
        )
        site = patient.home_site or patient.clinic.sites.order_by("pk").first()
        country = site.country if site is not None else "??"
        off_label, notice = off_label_notice(indication=indication, product=product, country=country)
        if off_label and not patient_acknowledged_off_label:
            raise ValidationFailed({"patient_acknowledged_off_label": [f"required: {notice}"]})
        consent = Consent.objects.create(
            patient=patient,
            course_ref=course_ref,
            indication=indication,
            product=product,
            jurisdiction=site.jurisdiction if site is not None else "",
            off_label=off_label,
            notice=notice,
            patient_acknowledged_off_label=patient_acknowledged_off_label,
            recorded_by=actor,
            signed_at=timezone.now(),
        )
        record_audit(
            actor=actor,
            action=AuditAction.SCREENING_CONSENT_RECORD,
            obj=consent,
            patient=patient,
            request=request,
            detail={"indication": indication, "product": product, "off_label": off_label},
        )
    return consent
