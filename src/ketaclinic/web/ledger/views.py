"""Thin views of the controlled-substance ledger: dashboard, movement forms, cases, registers, verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.core.ledger import EntryType
from ketaclinic.web.accounts.models import User, effective_membership_q
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger import actions, reports, selectors
from ketaclinic.web.ledger.models import (
    Case,
    CaseDeadline,
    Drug,
    Lot,
    Product,
    StorageLocation,
    Supplier,
    Unit,
)
from ketaclinic.web.lib.access import clinic_for_request
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError, PermissionDeniedError, ValidationFailed


def _clinic(request: HttpRequest, perm: Perm = Perm.LEDGER_VIEW) -> Clinic:
    clinic = clinic_for_request(request)
    if clinic is None or not has_perm_in_clinic(request.user, clinic, perm):
        raise PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")
    return clinic


def _forbidden(request: HttpRequest, exc: DomainError) -> HttpResponse:
    from ketaclinic.web.lib.audit import record_denied

    record_denied(request, exc)
    return render(request, "error.html", {"error": exc}, status=exc.status)


def _audit_page(request: HttpRequest, clinic: Any, action: str, detail: dict[str, Any]) -> None:
    with transaction.atomic():
        record_audit(actor=request.user, action=action, clinic=clinic, request=request, detail=detail)


# --- dashboard ---------------------------------------------------------------------------------------


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    rows = selectors.balances_for_clinic(clinic)
    _audit_page(request, clinic, "ledger.dashboard.view", {})
    today = timezone.localdate()
    deadlines = list(selectors.pending_deadlines(clinic))
    return render(
        request,
        "ledger/dashboard.html",
        {
            "balances": rows,
            "totals": selectors.product_totals(rows),
            "cases": list(selectors.open_cases(clinic)),
            "deadlines": [(d, d.due_on < today, d.due_on == today) for d in deadlines],
            "sessions": selectors.unreconciled_sessions(clinic),
            "inventory": selectors.inventory_status(clinic),
            "can_move": has_perm_in_clinic(request.user, clinic, Perm.STOCK_MOVE),
            "kinds": FORM_KINDS,
            "products": Product.objects.filter(clinic=clinic),
            "sites": Site.objects.filter(clinic=clinic),
            "today": today,
        },
    )


@login_required
def entries(request: HttpRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    rows = selectors.entries_for_clinic(clinic, limit=500)
    _audit_page(request, clinic, "ledger.entries.view", {"entries": len(rows)})
    return render(request, "ledger/entries.html", {"entries": rows})


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    result = selectors.clinic_chain_verify(clinic)
    record_audit(actor=request.user, action="ledger.verify", clinic=clinic, request=request, detail=result)
    return render(request, "ledger/verify.html", {"result": result}, status=200)


# --- movement forms ----------------------------------------------------------------------------------


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
            ("session", "lot", "quantity", "witness", "witness_password", "reason"),
            action=actions.do_record_waste,
            optional=frozenset({"reason"}),
            help="The witness watches the waste and re-enters their own password.",
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
                "second_witness",
                "second_witness_password",
            ),
            action=actions.do_record_waste,
            optional=frozenset({"second_witness", "second_witness_password"}),
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
                "second_witness",
                "second_witness_password",
            ),
            action=actions.do_record_destruction,
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


def _run(spec: FormKind, actor: Any, v: dict[str, Any], request: HttpRequest) -> str:
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


@login_required
@require_http_methods(["GET", "POST"])
def record(request: HttpRequest, kind: str) -> HttpResponse:
    spec = FORM_KINDS.get(kind)
    if spec is None:
        raise Http404("no such ledger form")
    try:
        clinic = _clinic(request, Perm.STOCK_MOVE)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = dict(request.GET.items())
    status = 200
    if request.method == "POST":
        values = {k: v for k, v in request.POST.items() if not k.endswith("password")}
        try:
            parsed = _parse(spec, clinic, request.POST)
            message = _run(spec, request.user, parsed, request)
        except ValidationFailed as exc:
            errors, status = exc.fields, 400
        except DomainError as exc:
            errors, status = {"__all__": [exc.message]}, exc.status
        else:
            messages.success(request, message)
            return redirect(reverse("ledger:dashboard"))
    fields = [
        {
            "name": n,
            "label": LABELS.get(n, n),
            "type": _input_type(n),
            "options": _options(clinic, n),
            "required": n not in spec.optional,
            "value": values.get(n, ""),
            "errors": errors.get(n, []),
        }
        for n in spec.fields
    ]
    other = {k: v for k, v in errors.items() if k not in spec.fields}
    return render(
        request, "ledger/record.html", {"spec": spec, "fields": fields, "other_errors": other}, status=status
    )


# --- reference data ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Products, suppliers and storage locations."""
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    errors: dict[str, list[str]] = {}
    form = request.POST.get("form", "")
    status = 200
    if request.method == "POST":
        p = request.POST
        try:
            if form == "product":
                actions.do_create_product(
                    actor=request.user,
                    clinic=clinic,
                    code_system=p.get("code_system", ""),
                    code=p.get("code", ""),
                    drug=p.get("drug", ""),
                    name=p.get("name", ""),
                    form=p.get("form_name", ""),
                    strength_mg_per_unit=p.get("strength_mg_per_unit", ""),
                    unit=p.get("unit", ""),
                    container_size=p.get("container_size", ""),
                    container_label=p.get("container_label", "vial"),
                    request=request,
                )
            elif form == "supplier":
                actions.do_create_supplier(
                    actor=request.user,
                    clinic=clinic,
                    name=p.get("name", ""),
                    address=p.get("address", ""),
                    registration_number=p.get("registration_number", ""),
                    registration_expires_on=_date(
                        p.get("registration_expires_on", ""), "registration_expires_on"
                    ),
                    request=request,
                )
            elif form == "location":
                site = _get(Site, p.get("site", ""), "site", clinic=clinic)
                actions.do_create_location(
                    actor=request.user, site=site, name=p.get("name", ""), request=request
                )
            else:
                raise ValidationFailed({"form": ["unknown form"]})
        except DomainError as exc:
            errors, status = exc.fields or {"__all__": [exc.message]}, exc.status
        else:
            messages.success(request, f"{form.title()} saved.")
            return redirect(reverse("ledger:setup"))
    return render(
        request,
        "ledger/setup.html",
        {
            "products": Product.objects.filter(clinic=clinic),
            "suppliers": Supplier.objects.filter(clinic=clinic),
            "locations": StorageLocation.objects.filter(site__clinic=clinic).select_related("site"),
            "sites": Site.objects.filter(clinic=clinic),
            "drugs": Drug.choices,
            "units": Unit.choices,
            "code_systems": Product.CodeSystem.choices,
            "errors": errors,
            "form": form,
            "post": request.POST if request.method == "POST" else {},
            "today": timezone.localdate(),
            "can_move": has_perm_in_clinic(request.user, clinic, Perm.STOCK_MOVE),
        },
        status=status,
    )


# --- cases -------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    case = (
        Case.objects.filter(pk=case_id, clinic=clinic)
        .select_related("product", "lot", "location", "opening_entry")
        .first()
    )
    if case is None:
        raise Http404("no such case")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            if "deadline" in request.POST:
                deadline = _get(CaseDeadline, request.POST["deadline"], "deadline", case=case)
                actions.do_complete_deadline(
                    actor=request.user,
                    deadline=deadline,
                    reference=request.POST.get("reference", ""),
                    request=request,
                )
            else:
                actions.do_resolve_case(
                    actor=request.user,
                    case=case,
                    resolution=request.POST.get("resolution", ""),
                    request=request,
                )
        except DomainError as exc:
            errors, status = exc.fields or {"__all__": [exc.message]}, exc.status
        else:
            messages.success(request, "Saved.")
            return redirect(reverse("ledger:case", args=[case.pk]))
    return render(
        request,
        "ledger/case.html",
        {
            "case": case,
            "deadlines": case.deadlines.all(),
            "errors": errors,
            "today": timezone.localdate(),
            "can_move": has_perm_in_clinic(request.user, clinic, Perm.STOCK_MOVE),
        },
        status=status,
    )


# --- registers and inventories ----------------------------------------------------------------------


def _period(request: HttpRequest, site: Site) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    today = timezone.localdate()
    start = _date(request.GET.get("start", ""), "start") or today.replace(day=1)
    end = _date(request.GET.get("end", ""), "end") or today
    if end < start:
        raise ValidationFailed({"end": ["must not be before the start"]})
    tz = selectors._tz(site)
    return (
        start,
        end,
        dt.datetime.combine(start, dt.time(0), tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz),
    )


@login_required
def register(request: HttpRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
        site = _get(Site, request.GET.get("site", ""), "site", clinic=clinic)
        product = _get(Product, request.GET.get("product", ""), "product", clinic=clinic)
        start, end, t0, t1 = _period(request, site)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    except ValidationFailed as exc:
        return render(request, "error.html", {"error": exc}, status=400)
    reg = selectors.register_for(
        site=site, product=product, start=t0, end=t1, include_internal=request.GET.get("internal") == "1"
    )
    fmt = request.GET.get("format", "html")
    record_audit(
        actor=request.user,
        action="ledger.register.view",
        clinic=clinic,
        request=request,
        detail={
            "site": site.pk,
            "product": product.pk,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "format": fmt,
        },
    )
    name = f"register-{product.code}-{site.pk}-{start.isoformat()}-{end.isoformat()}"
    if fmt == "csv":
        resp = HttpResponse(reports.register_csv_bytes(reg), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return resp
    if fmt == "pdf":
        resp = HttpResponse(reports.register_pdf(reg, site=site), content_type="application/pdf")
        resp["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return resp
    return render(
        request,
        "ledger/register.html",
        {"reg": reg, "site": site, "product": product, "start": start, "end": end, "unit": product.unit},
    )


@login_required
def inventory(request: HttpRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
        site = _get(Site, request.GET.get("site", ""), "site", clinic=clinic)
        start, end, t0, t1 = _period(request, site)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    except ValidationFailed as exc:
        return render(request, "error.html", {"error": exc}, status=400)
    lines = selectors.inventory_for(site=site, start=t0, end=t1)
    title = f"Controlled substance inventory (initial/biennial, 21 CFR 1304.11): {start.isoformat()} to {end.isoformat()}"
    fmt = request.GET.get("format", "pdf")
    record_audit(
        actor=request.user,
        action="ledger.inventory.view",
        clinic=clinic,
        request=request,
        detail={"site": site.pk, "start": start.isoformat(), "end": end.isoformat(), "format": fmt},
    )
    if fmt == "csv":
        resp = HttpResponse(
            reports.inventory_csv(lines, site=site, title=title), content_type="text/csv; charset=utf-8"
        )
        resp["Content-Disposition"] = f'attachment; filename="inventory-{site.pk}-{start}-{end}.csv"'
        return resp
    resp = HttpResponse(reports.inventory_pdf(lines, site=site, title=title), content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="inventory-{site.pk}-{start}-{end}.pdf"'
    return resp
