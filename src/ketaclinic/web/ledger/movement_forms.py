"""The ledger's movement forms: one description per kind of movement (its fields, labels, choices and the
action it runs), and parsing a submitted form into that action's arguments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from ketaclinic.core.ledger import EntryType
from ketaclinic.web.accounts.models import User, effective_membership_q
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.ledger import actions, selectors
from ketaclinic.web.ledger.models import (
    Lot,
    Product,
    StorageLocation,
    Supplier,
)
from ketaclinic.web.lib.errors import ValidationFailed


@dataclass(frozen=True)
class FormKind:
    slug: str
    title: str
    fields: tuple[str, ...]
    action: Callable[..., Any]  # called with actor=, request= and the parsed fields as keywords
    help: str = ""
    optional: frozenset[str] = field(default_factory=frozenset)


FORM_KINDS: dict[str, FormKind] = {
    k.slug: k
    for k in (
        FormKind(
            "receive",
            "Receive stock",
            ("location", "product", "supplier", "lot_number", "lot_expires_on", "quantity", "invoice"),
            action=actions.do_receive_stock,
            optional=frozenset({"invoice"}),
        ),
        FormKind(
            "transfer",
            "Transfer between locations",
            ("lot", "from_location", "to_location", "quantity"),
            action=actions.do_transfer_stock,
        ),
        FormKind(
            "withdraw",
            "Withdraw for a session",
            ("session", "lot", "location", "quantity"),
            action=actions.do_withdraw_for_session,
        ),
        FormKind(
            "administer",
            "Record administration",
            ("session", "lot", "quantity"),
            action=actions.do_record_administration,
        ),
        FormKind(
            "waste",
            "Waste remainder (witnessed)",
            ("session", "lot", "quantity", "witness", "witness_password", "witness_code", "reason"),
            action=actions.do_record_waste,
            optional=frozenset({"reason", "witness_code"}),
            help="The witness watches the waste and re-enters their own password and authenticator code.",
        ),
        FormKind(
            "breakage",
            "Breakage or spillage (witnessed)",
            (
                "location",
                "lot",
                "quantity",
                "reason",
                "witness",
                "witness_password",
                "witness_code",
                "second_witness",
                "second_witness_password",
                "second_witness_code",
            ),
            action=actions.do_record_waste,
            optional=frozenset(
                {"second_witness", "second_witness_password", "witness_code", "second_witness_code"}
            ),
        ),
        FormKind(
            "return",
            "Return unopened stock from a session",
            ("session", "lot", "quantity"),
            action=actions.do_return_to_stock,
        ),
        FormKind(
            "return-supplier",
            "Return to supplier",
            ("lot", "location", "supplier", "quantity", "reason"),
            action=actions.do_return_to_supplier,
            optional=frozenset({"reason"}),
        ),
        FormKind(
            "destroy",
            "Destroy stock (two witnesses)",
            (
                "lot",
                "location",
                "quantity",
                "method",
                "witness",
                "witness_password",
                "witness_code",
                "second_witness",
                "second_witness_password",
                "second_witness_code",
            ),
            action=actions.do_record_destruction,
            optional=frozenset({"witness_code", "second_witness_code"}),
        ),
        FormKind(
            "count",
            "Count / inventory",
            ("lot", "location", "counted", "kind", "timing"),
            action=actions.do_record_count,
            optional=frozenset({"timing"}),
        ),
        FormKind(
            "adjust",
            "Adjust balance (with reason)",
            ("lot", "location", "quantity", "reason"),
            action=actions.do_record_adjustment,
            help="A signed quantity: negative reduces the balance.",
        ),
        FormKind(
            "loss",
            "Report theft or loss",
            ("lot", "location", "quantity", "description", "discovered_on"),
            action=actions.do_report_theft_loss,
        ),
    )
}


LABELS = {
    "location": "Storage location",
    "from_location": "From",
    "to_location": "To",
    "product": "Product",
    "supplier": "Supplier",
    "lot_number": "Lot number",
    "lot_expires_on": "Lot expiry",
    "quantity": "Quantity",
    "invoice": "Invoice / receipt number",
    "lot": "Lot",
    "session": "Dosing session",
    "witness": "Witness",
    "witness_password": "Witness's password",
    "second_witness": "Second witness",
    "second_witness_password": "Second witness's password",
    "witness_code": "Witness's authenticator code",
    "second_witness_code": "Second witness's authenticator code",
    "reason": "Reason",
    "method": "Method of destruction",
    "counted": "Quantity counted",
    "kind": "Count",
    "timing": "Taken at",
    "description": "What happened",
    "discovered_on": "Discovered on",
}


def _options(clinic: Clinic, name: str) -> list[tuple[str, str]] | None:
    if name in ("location", "from_location", "to_location"):
        return [
            (str(loc.pk), str(loc))
            for loc in StorageLocation.objects.filter(site__clinic=clinic, is_active=True).select_related(
                "site"
            )
        ]
    if name == "product":
        return [(str(p.pk), p.heading) for p in Product.objects.filter(clinic=clinic, is_active=True)]
    if name == "supplier":
        return [
            (str(s.pk), f"{s.name} ({s.registration_number or 'no registration'})")
            for s in Supplier.objects.filter(clinic=clinic)
        ]
    if name == "lot":
        return [
            (
                str(lot.pk),
                f"{lot.lot_number} exp {lot.expires_on.isoformat()} ({lot.product.name}, {lot.product.strength_label})",
            )
            for lot in Lot.objects.filter(product__clinic=clinic).select_related("product")
        ]
    if name == "session":
        from ketaclinic.web.treatment.models import DosingSession

        open_statuses = [s for s in DosingSession.Status.values if s not in ("discharged", "cancelled")]
        sessions = (
            DosingSession.objects.filter(clinic=clinic)
            .filter(status__in=open_statuses)
            .select_related("patient")
            .order_by("-scheduled_for")[:100]
        )
        extra = {
            int(s.session_ref) for s in selectors.unreconciled_sessions(clinic) if s.session_ref.isdigit()
        }
        more = DosingSession.objects.filter(clinic=clinic, pk__in=extra).select_related("patient")
        seen: dict[int, Any] = {s.pk: s for s in [*sessions, *more]}
        return [
            (
                str(s.pk),
                f"#{s.pk} {s.patient.family_name}, {s.patient.given_name} — {timezone.localtime(s.scheduled_for):%Y-%m-%d %H:%M} ({s.get_status_display()})",
            )
            for s in seen.values()
        ]
    if name in ("witness", "second_witness"):
        users = (
            User.objects.filter(
                effective_membership_q("memberships__"),
                memberships__clinic=clinic,
                memberships__role__in=sorted(actions.WITNESS_ROLES),
                is_active=True,
            )
            .distinct()
            .order_by("username")
        )
        return [("", "—")] + [(str(u.pk), str(u)) for u in users]
    if name == "kind":
        return [(k, k) for k in actions.COUNT_KINDS]
    if name == "timing":
        return [("", "—"), ("opening", "opening of business"), ("close", "close of business")]
    return None


def _input_type(name: str) -> str:
    if name.endswith("password"):
        return "password"
    if name in ("lot_expires_on", "discovered_on"):
        return "date"
    if name in ("reason", "method", "description"):
        return "textarea"
    return "text"


def _get(model: Any, raw: str, field_name: str, **scope: Any) -> Any:
    try:
        return model.objects.get(pk=int(raw), **scope)
    except (ValueError, model.DoesNotExist):
        raise ValidationFailed({field_name: ["choose one from the list"]}) from None


def _date(raw: str, name: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed({name: ["must be a date (YYYY-MM-DD)"]}) from None


def _parse(kind: FormKind, clinic: Clinic, data: Any) -> dict[str, Any]:
    from ketaclinic.web.treatment.models import DosingSession

    out: dict[str, Any] = {}
    missing = {
        n: ["is required"] for n in kind.fields if n not in kind.optional and not str(data.get(n, "")).strip()
    }
    if missing:
        raise ValidationFailed(missing)
    for n in kind.fields:
        raw = str(data.get(n, "")).strip()
        if n in ("location", "from_location", "to_location"):
            out[n] = _get(StorageLocation, raw, n, site__clinic=clinic)
        elif n == "product":
            out[n] = _get(Product, raw, n, clinic=clinic)
        elif n == "supplier":
            out[n] = _get(Supplier, raw, n, clinic=clinic)
        elif n == "lot":
            out[n] = _get(Lot, raw, n, product__clinic=clinic)
        elif n == "session":
            out[n] = _get(DosingSession, raw, n, clinic=clinic)
        elif n in ("witness", "second_witness"):
            out[n] = None if not raw else _get(User, raw, n)
        elif n in ("lot_expires_on", "discovered_on"):
            out[n] = _date(raw, n)
        elif n.endswith("password"):
            out[n] = str(data.get(n, ""))
        else:
            out[n] = raw
    return out


def _run(spec: FormKind, actor: User, v: dict[str, Any], request: SignedInRequest) -> str:
    """Call the action of `spec` with the parsed form fields; returns a confirmation message."""
    result = spec.action(actor=actor, **v, request=request)
    if spec.slug == "count":
        e, case = result
        if case is not None:
            return f"Count recorded (entry #{e.seq}). It does not match the book balance: case #{case.pk} opened."
    elif spec.slug == "loss":
        e, case = result
        return f"Theft/loss recorded (entry #{e.seq}); case #{case.pk} opened with its report deadlines."
    else:
        e = result
    return f"{EntryType(e.entry_type).label} recorded as entry #{e.seq}."
