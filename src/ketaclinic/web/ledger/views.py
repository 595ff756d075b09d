"""Thin views of the controlled-substance ledger: dashboard, movement forms, cases, registers, verification."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.ledger.entries import EntryType
from ketaclinic.web.access import access_case_by_id, clinic_for_request
from ketaclinic.web.accounts.requests import SignedInRequest
from ketaclinic.web.accounts.roles import Perm, has_perm_in_clinic
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.ledger import actions, reports, selectors
from ketaclinic.web.ledger.models import (
    Case,
    CaseDeadline,
    Drug,
    Product,
    StorageLocation,
    Supplier,
    Unit,
)
from ketaclinic.web.ledger.movement_forms import (
    FORM_KINDS,
    LABELS,
    _date,
    _get,
    _input_type,
    _options,
    _parse,
    _run,
)
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import DomainError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.lib.pagination import page_number, paginate


def _clinic(request: SignedInRequest, perm: Perm = Perm.LEDGER_VIEW) -> Clinic:
    clinic = clinic_for_request(request)
    if clinic is None or not has_perm_in_clinic(request.user, clinic, perm):
        raise PermissionDeniedError(f"your role in this clinic does not allow {perm.value}")
    return clinic


def _forbidden(request: SignedInRequest, exc: DomainError) -> HttpResponse:
    from ketaclinic.web.lib.audit import record_denied

    record_denied(request, exc)
    return render(request, "error.html", {"error": exc}, status=exc.status)


def _audit_page(request: SignedInRequest, clinic: Clinic, action: str, detail: dict[str, Any]) -> None:
    with transaction.atomic():
        record_audit(actor=request.user, action=action, clinic=clinic, request=request, detail=detail)


@login_required
def dashboard(request: SignedInRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    rows = selectors.balances_for_clinic(clinic)
    _audit_page(request, clinic, AuditAction.LEDGER_DASHBOARD_VIEW, {})
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
def entries(request: SignedInRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    g = request.GET
    errors: dict[str, list[str]] = {}
    entry_type = _choice_int(g.get("type", ""), "type", {int(t) for t in EntryType}, errors)
    products = list(selectors.clinic_products(clinic))
    product_id = _choice_int(g.get("product", ""), "product", {p.pk for p in products}, errors)
    since = _day(g.get("since", ""), "since", errors)
    until = _day(g.get("until", ""), "until", errors)
    if since and until and since > until:
        errors["until"] = ["must be on or after the from date"]
    page_number(request)
    if errors:
        raise ValidationFailed(errors)
    qs = selectors.entries_filtered(
        clinic, entry_type=entry_type, product_id=product_id, since=since, until=until
    )
    page = paginate(request, qs)
    _audit_page(
        request,
        clinic,
        AuditAction.LEDGER_ENTRIES_VIEW,
        {"entries": len(page.object_list), "page": page.number, **g.dict()},
    )
    return render(
        request,
        "ledger/entries.html",
        {
            "entries": page.object_list,
            "page": page,
            "types": [(int(t), t.label) for t in EntryType],
            "products": products,
            "filters": g,
            "filtered": any(g.get(k) for k in ("type", "product", "since", "until")),
        },
    )


def _choice_int(raw: str, field: str, allowed: set[int], errors: dict[str, list[str]]) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or int(raw) not in allowed:
        errors[field] = ["is not one of the choices offered"]
        return None
    return int(raw)


def _day(raw: str, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = ["must be a date (year-month-day)"]
        return None


@login_required
def verify(request: SignedInRequest) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    result = selectors.clinic_chain_verify(clinic)
    record_audit(
        actor=request.user, action=AuditAction.LEDGER_VERIFY, clinic=clinic, request=request, detail=result
    )
    return render(request, "ledger/verify.html", {"result": result}, status=200)


@login_required
@require_http_methods(["GET", "POST"])
def record(request: SignedInRequest, kind: str) -> HttpResponse:
    spec = FORM_KINDS.get(kind)
    if spec is None:
        raise Http404("no such ledger form")
    try:
        clinic = _clinic(request, Perm.STOCK_MOVE)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = request.GET.dict()
    status = 200
    if request.method == "POST":
        values = {k: v for k, v in request.POST.dict().items() if not k.endswith("password")}
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


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: SignedInRequest) -> HttpResponse:
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


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: SignedInRequest, case_id: int) -> HttpResponse:
    try:
        clinic = _clinic(request)
    except PermissionDeniedError as exc:
        return _forbidden(request, exc)
    case: Case = access_case_by_id(request.user, case_id, clinic=clinic, audit_action=None)
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


def _period(request: SignedInRequest, site: Site) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
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
def register(request: SignedInRequest) -> HttpResponse:
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
        action=AuditAction.LEDGER_REGISTER_VIEW,
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
def inventory(request: SignedInRequest) -> HttpResponse:
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
        action=AuditAction.LEDGER_INVENTORY_VIEW,
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
