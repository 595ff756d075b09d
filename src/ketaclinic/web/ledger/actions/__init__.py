"""Writes of the controlled-substance ledger: every stock movement is one hash-chained, append-only entry.

One module per topic (Zulip's `zerver/actions/` layout); this package re-exports every public action so
`from ketaclinic.web.ledger.actions import do_receive_stock` and `actions.do_receive_stock` keep working.
Nothing is stored when an action raises.
"""

from __future__ import annotations

from ketaclinic.web.ledger.actions.cases import do_complete_deadline, do_report_theft_loss, do_resolve_case
from ketaclinic.web.ledger.actions.common import COUNT_KINDS, COUNT_TIMINGS
from ketaclinic.web.ledger.actions.counts import do_record_adjustment, do_record_count
from ketaclinic.web.ledger.actions.reference import do_create_location, do_create_product, do_create_supplier
from ketaclinic.web.ledger.actions.sessions import (
    do_record_administration,
    do_record_waste,
    do_return_to_stock,
    do_withdraw_for_session,
)
from ketaclinic.web.ledger.actions.stock import (
    do_receive_stock,
    do_record_destruction,
    do_return_to_supplier,
    do_transfer_stock,
)
from ketaclinic.web.ledger.actions.witness import WITNESS_ROLES, WitnessSignature, authenticate_witness

__all__ = [
    "COUNT_KINDS",
    "COUNT_TIMINGS",
    "WITNESS_ROLES",
    "WitnessSignature",
    "authenticate_witness",
    "do_complete_deadline",
    "do_create_location",
    "do_create_product",
    "do_create_supplier",
    "do_receive_stock",
    "do_record_adjustment",
    "do_record_administration",
    "do_record_count",
    "do_record_destruction",
    "do_record_waste",
    "do_report_theft_loss",
    "do_resolve_case",
    "do_return_to_stock",
    "do_return_to_supplier",
    "do_transfer_stock",
    "do_withdraw_for_session",
]
