"""Writes of clinic administration: clinic details, sites, controlled-substance registrations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.accounts.roles import Perm, require_perm
from ketaclinic.web.clinics.jurisdictions import JURISDICTIONS
from ketaclinic.web.clinics.models import Clinic, Registration, Site
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import NotFoundError, ValidationFailed, field_errors_from_django

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ketaclinic.web.accounts.models import User


CLINIC_FIELDS = ("name", "phone", "email")
SITE_FIELDS = (
    "name",
    "address_line",
    "city",
    "region",
    "postal_code",
    "jurisdiction",
    "timezone",
    "rems_certified",
    "rems_certification_id",
)


def _full_clean(obj: Any, exclude: list[str]) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        raise ValidationFailed(field_errors_from_django(exc)) from exc


def do_update_clinic(
    *, actor: User, clinic: Clinic, values: Mapping[str, object], request: HttpRequest | None = None
) -> Clinic:
    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    with transaction.atomic():
        row = Clinic.objects.select_for_update().get(pk=clinic.pk)
        before = {f: getattr(row, f) for f in CLINIC_FIELDS}
        for f in CLINIC_FIELDS:
            if f in values:
                setattr(row, f, str(values[f]).strip())
        if not row.name:
            raise ValidationFailed({"name": ["is required"]})
        _full_clean(row, exclude=["slug"])
        changes = {f: [before[f], getattr(row, f)] for f in CLINIC_FIELDS if before[f] != getattr(row, f)}
        if changes:
            row.save()
            record_audit(
                actor=actor,
                action=AuditAction.CLINIC_UPDATE,
                obj=row,
                clinic=row,
                request=request,
                detail={"changes": changes},
            )
    return row


def do_save_site(
    *,
    actor: User,
    clinic: Clinic,
    values: Mapping[str, object],
    site_id: int | None = None,
    request: HttpRequest | None = None,
) -> Site:
    """Create a site, or update one of this clinic's sites."""
    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    errors: dict[str, list[str]] = {}
    jurisdiction = str(values.get("jurisdiction", "")).strip().upper()
    if "jurisdiction" in values and jurisdiction not in JURISDICTIONS:
        errors["jurisdiction"] = ["must be a US state (US-CA), UK, or an Australian state (AU-NSW)"]
    if "timezone" in values:
        import zoneinfo

        if str(values["timezone"]).strip() not in zoneinfo.available_timezones():
            errors["timezone"] = ["must be an IANA time zone such as America/New_York"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        if site_id is None:
            site = Site(clinic=clinic)
            before: dict[str, Any] = {}
        else:
            found = Site.objects.select_for_update().filter(pk=site_id, clinic=clinic).first()
            if found is None:
                raise NotFoundError("no such site in this clinic")
            site = found
            before = {f: getattr(site, f) for f in SITE_FIELDS}
        for f in SITE_FIELDS:
            if f not in values:
                continue
            if f == "rems_certified":
                site.rems_certified = values[f] in (True, "on", "true", "1", 1)
            elif f == "jurisdiction":
                site.jurisdiction = jurisdiction
            else:
                setattr(site, f, str(values[f]).strip())
        if not site.name:
            raise ValidationFailed({"name": ["is required"]})
        if Site.objects.filter(clinic=clinic, name__iexact=site.name).exclude(pk=site.pk).exists():
            raise ValidationFailed({"name": [f"this clinic already has a site named {site.name!r}"]})
        _full_clean(site, exclude=["clinic"])
        site.save()
        after = {f: getattr(site, f) for f in SITE_FIELDS}
        record_audit(
            actor=actor,
            action=AuditAction.SITE_CREATE if not before else AuditAction.SITE_UPDATE,
            obj=site,
            clinic=clinic,
            request=request,
            detail={
                "changes": {f: [before.get(f), after[f]] for f in SITE_FIELDS if before.get(f) != after[f]}
            },
        )
    return site


def do_add_registration(
    *,
    actor: User,
    clinic: Clinic,
    site_id: int,
    kind: str,
    number: str,
    expires_on: Any,
    schedules: str = "",
    request: HttpRequest | None = None,
) -> Registration:
    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    errors: dict[str, list[str]] = {}
    site = Site.objects.filter(pk=site_id, clinic=clinic).first()
    if site is None:
        errors["site_id"] = ["must be a site of this clinic"]
    if kind not in Registration.Kind.values:
        errors["kind"] = [f"must be one of {', '.join(Registration.Kind.values)}"]
    number = str(number).strip()
    if not number:
        errors["number"] = ["is required"]
    expiry = None
    if expires_on not in (None, ""):
        try:
            expiry = expires_on if isinstance(expires_on, dt.date) else dt.date.fromisoformat(str(expires_on))
        except ValueError:
            errors["expires_on"] = ["must be a date in YYYY-MM-DD format"]
    if not errors and Registration.objects.filter(site=site, kind=kind, number=number).exists():
        errors["number"] = ["this registration is already on file for the site"]
    if errors or site is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        reg = Registration.objects.create(
            site=site, kind=kind, number=number, expires_on=expiry, schedules=schedules.strip()
        )
        record_audit(
            actor=actor,
            action=AuditAction.REGISTRATION_CREATE,
            obj=reg,
            clinic=clinic,
            request=request,
            detail={"kind": kind, "number": number, "expires_on": expiry.isoformat() if expiry else None},
        )
    return reg


def _set_whole_number(
    *,
    actor: User,
    clinic: Clinic,
    field: str,
    raw: Any,
    low: int,
    high: int,
    unit: str,
    action: AuditAction,
    request: HttpRequest | None,
) -> Clinic:
    """Set one whole-number clinic setting within [low, high], locked, in one transaction with its audit
    record (the old and new values)."""
    require_perm(actor, clinic, Perm.CLINIC_ADMIN)
    try:
        n = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValidationFailed({field: [f"must be a whole number{' of' + unit if unit else ''}"]}) from None
    if not low <= n <= high:
        raise ValidationFailed({field: [f"must be between {low} and {high}{unit}"]})
    with transaction.atomic():
        row = Clinic.objects.select_for_update().get(pk=clinic.pk)
        before = getattr(row, field)
        setattr(row, field, n)
        row.save(update_fields=[field])
        record_audit(
            actor=actor, action=action, obj=row, clinic=row, request=request, detail={field: [before, n]}
        )
    return row


def do_set_token_lifetime(
    *, actor: User, clinic: Clinic, days: Any, request: HttpRequest | None = None
) -> Clinic:
    """The lifetime of API tokens made by this clinic's staff (1 to 365 days)."""
    return _set_whole_number(
        actor=actor,
        clinic=clinic,
        field="api_token_days",
        raw=days,
        low=1,
        high=365,
        unit=" days",
        action=AuditAction.CLINIC_TOKEN_LIFETIME,
        request=request,
    )


def do_set_small_cell_threshold(
    *, actor: User, clinic: Clinic, threshold: Any, request: HttpRequest | None = None
) -> Clinic:
    """The smallest outcome count shown to researchers and in aggregate exports (2 to 100; default 11)."""
    return _set_whole_number(
        actor=actor,
        clinic=clinic,
        field="small_cell_threshold",
        raw=threshold,
        low=2,
        high=100,
        unit="",
        action=AuditAction.CLINIC_SMALL_CELL_THRESHOLD,
        request=request,
    )


def do_set_staff_policy(
    *, clinic: Clinic, registrant: Any = None, cooling_off_hours: int | None = None, operator: str
) -> Clinic:
    """The operator (command line only) names the clinic's registrant and its cooling-off period for role grants.

    Not offered to clinic admins: an admin who could name the registrant or shorten the cooling-off could
    approve their own grants through an account they control.
    """
    errors: dict[str, list[str]] = {}
    if cooling_off_hours is not None and not 0 <= cooling_off_hours <= 24 * 90:
        errors["cooling_off_hours"] = ["must be between 0 and 2160 hours"]
    if registrant is not None and not registrant.memberships.filter(clinic=clinic, is_active=True).exists():
        errors["registrant"] = [f"{registrant.username} is not a member of {clinic.name}"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        row = Clinic.objects.select_for_update().get(pk=clinic.pk)
        detail: dict[str, Any] = {}
        if registrant is not None:
            detail["registrant"] = [row.registrant_id, registrant.pk]
            row.registrant = registrant
        if cooling_off_hours is not None:
            detail["grant_cooling_off_hours"] = [row.grant_cooling_off_hours, cooling_off_hours]
            row.grant_cooling_off_hours = cooling_off_hours
        row.save()
        record_audit(
            actor=operator, action=AuditAction.CLINIC_STAFF_POLICY, obj=row, clinic=row, detail=detail
        )
    return row
