"""The ledger entries page: paginated, filtered by type, product and dates; bad filters refused, nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.core.ledger.entries import EntryType
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.ledger import actions
from ketaclinic.web.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


def test_entries_are_paginated_and_filtered(
    custodian: Any, stocked: Any, safe: Any, cart: Any, product: Any, client_as: Any
) -> None:
    for i in range(55):
        a, b = (safe, cart) if i % 2 == 0 else (cart, safe)
        actions.do_transfer_stock(actor=custodian, lot=stocked, from_location=a, to_location=b, quantity="1")
    assert LedgerEntry.objects.count() == 56
    c = client_as(custodian)
    resp = c.get("/ledger/entries/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert [e.seq for e in resp.context["entries"]][:2] == [56, 55]
    assert len(resp.context["entries"]) == 50
    assert "1–50 of 56 entries · page 1 of 2" in html
    resp = c.get("/ledger/entries/", {"type": int(EntryType.RECEIPT)})
    assert [e.seq for e in resp.context["entries"]] == [1]
    assert f'<option value="{int(EntryType.RECEIPT)}" selected>' in resp.content.decode()
    resp = c.get("/ledger/entries/", {"type": int(EntryType.TRANSFER), "product": product.pk, "page": "2"})
    assert [e.seq for e in resp.context["entries"]] == [6, 5, 4, 3, 2]
    assert (
        c.get("/ledger/entries/", {"since": "2001-01-01", "until": "2001-01-31"})
        .context["page"]
        .paginator.count
        == 0
    )


@pytest.mark.parametrize(
    "params",
    [
        {"type": "99"},
        {"product": "x"},
        {"since": "soon"},
        {"since": "2026-02-02", "until": "2026-02-01"},
        {"page": "0"},
    ],
)
def test_bad_filters_are_refused_and_nothing_is_recorded(
    custodian: Any, client_as: Any, params: dict[str, str]
) -> None:
    before = AuditEvent.objects.count()
    assert client_as(custodian).get("/ledger/entries/", params).status_code == 400
    assert AuditEvent.objects.count() == before
