"""Registers per drug/form/strength in each jurisdiction's format: rows, running balance, opening balance, CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tests.core.ledger.ledger_helpers import chain, entry

from ketaclinic.core.ledger import EntryType, RegisterLine, build_register, jurisdiction, register_csv

D = Decimal
SCOPE = frozenset({"safe", "cart"})


def _lines() -> list[RegisterLine]:
    entries = chain(
        entry(EntryType.RECEIPT, "100", minutes=-60 * 24, location="safe"),  # the day before
        entry(EntryType.RECEIPT, "50", location="safe"),
        entry(EntryType.WITHDRAWAL, "10", minutes=10, location="safe", session="s1"),
        entry(EntryType.ADMINISTRATION, "7", minutes=40, location="safe", session="s1", patient="pt"),
        entry(EntryType.WASTE, "3", minutes=45, location="safe", session="s1", witnesses=("u2",)),
        entry(EntryType.TRANSFER, "5", minutes=50, location="safe", to_location="other-site"),
        entry(EntryType.COUNT, "135", minutes=60, location="safe", expected_quantity=D("135")),
        entry(EntryType.RECEIPT, "10", minutes=60 * 24 * 3, location="safe"),  # after the period
    )
    names = {
        EntryType.RECEIPT: {"counterparty": "Acme Pharma, 1 Main St, DEA AB1234567"},
        EntryType.ADMINISTRATION: {
            "patient_name": "Doe, Jane",
            "patient_address": "2 Elm St",
            "authority": "Dr Smith",
        },
        EntryType.WASTE: {"witness": "Nurse Two"},
    }
    return [
        RegisterLine(entry=e, lot_label="L1 exp 2027-01", person="Nurse One", **names.get(e.entry_type, {}))
        for e in entries
    ]


START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 3, tzinfo=UTC)


def test_au_register_running_balance_and_witness() -> None:
    reg = build_register(
        _lines(),
        rules=jurisdiction("AU"),
        heading="Ketamine injection 100 mg/mL, 10 mL vial",
        unit="mL",
        scope=SCOPE,
        start=START,
        end=END,
        tz=ZoneInfo("Australia/Sydney"),
    )
    assert reg.opening_balance == D(100)
    assert reg.closing_balance == D(135)
    assert reg.headers[:3] == ("Date", "Time", "Transaction")
    assert [r.cells for r in reg.rows] == [
        (
            "2026-03-02",
            "20:00",
            "Receipt",
            "Acme Pharma, 1 Main St, DEA AB1234567",
            "",
            "50 mL",
            "",
            "150 mL",
            "Nurse One",
            "",
        ),
        ("2026-03-02", "20:40", "Administration", "", "Dr Smith", "", "7 mL", "143 mL", "Nurse One", ""),
        ("2026-03-02", "20:45", "Waste", "", "", "", "3 mL", "140 mL", "Nurse One", "Nurse Two"),
        ("2026-03-02", "20:50", "Transfer", "", "", "", "5 mL", "135 mL", "Nurse One", ""),
        (
            "2026-03-02",
            "21:00",
            "Count (expected 135 mL, counted 135 mL)",
            "",
            "",
            "",
            "",
            "135 mL",
            "Nurse One",
            "",
        ),
    ]


def test_us_register_lists_patient_and_internal_moves_on_request() -> None:
    reg = build_register(
        _lines(),
        rules=jurisdiction("US"),
        heading="Ketamine",
        unit="mL",
        scope=SCOPE,
        start=START,
        end=END,
        tz=UTC,
        include_internal=True,
    )
    assert [r.entry_type for r in reg.rows] == [
        EntryType.RECEIPT,
        EntryType.WITHDRAWAL,
        EntryType.ADMINISTRATION,
        EntryType.WASTE,
        EntryType.TRANSFER,
        EntryType.COUNT,
    ]
    admin = reg.rows[2]
    assert dict(zip(reg.headers, admin.cells, strict=True))["Patient name"] == "Doe, Jane"
    assert dict(zip(reg.headers, admin.cells, strict=True))["Patient address"] == "2 Elm St"
    assert [r.balance for r in reg.rows] == [D(150), D(150), D(143), D(140), D(135), D(135)]


def test_empty_period_keeps_opening_balance() -> None:
    reg = build_register(
        _lines(),
        rules=jurisdiction("UK"),
        heading="Ketamine",
        unit="mL",
        scope=SCOPE,
        start=datetime(2026, 3, 4, tzinfo=UTC),
        end=datetime(2026, 3, 5, tzinfo=UTC),
        tz=UTC,
    )
    assert reg.rows == ()
    assert reg.opening_balance == reg.closing_balance == D(135)


def test_csv_layout() -> None:
    reg = build_register(
        _lines(),
        rules=jurisdiction("UK"),
        heading="Ketamine 50 mg/mL",
        unit="mL",
        scope=SCOPE,
        start=START,
        end=END,
        tz=ZoneInfo("Europe/London"),
    )
    lines = register_csv(reg).splitlines()
    assert lines[0].startswith('"Controlled Drugs Register, Schedule 2')
    assert lines[1] == '"Drug, form and strength",Ketamine 50 mg/mL'
    assert lines[3] == "Opening balance,100 mL"
    assert lines[4].split(",")[0] == "Date received / supplied"
    assert lines[5] == (
        '2026-03-02,Receipt,"Acme Pharma, 1 Main St, DEA AB1234567",,,50 mL,,Nurse One,,150 mL'
    )
    assert lines[-1] == "Closing balance,135 mL"
    assert len(lines) == 4 + 1 + 5 + 1
