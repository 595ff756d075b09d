"""Jurisdiction rule packs, report deadlines in business days, and entry validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml

from ketaclinic.core.ledger import EntryType, Issue, add_business_days, check_entry, jurisdiction, load_rules
from ketaclinic.core.ledger.rules import (
    RulesError,
    next_inventory_due,
    parse_rulebook,
    report_deadlines,
    us_federal_holidays,
)

US = jurisdiction("US")
D = Decimal


def test_rulebook_loads_with_sources() -> None:
    book = load_rules()
    assert book.version == 1
    assert [j.code for j in book.jurisdictions] == ["US", "UK", "AU"]
    assert jurisdiction("gb").code == "UK"
    assert jurisdiction("AU-VIC").code == "AU"
    assert jurisdiction("us-ca").code == "US"
    with pytest.raises(KeyError, match="unknown jurisdiction 'FR'"):
        jurisdiction("FR")
    for j in book.jurisdictions:
        for col in j.register_columns:
            assert col.source and col.status in {"V", "S", "R"}
    assert US.destruction_witnesses.value == 2 and US.destruction_witnesses.status == "V"
    assert US.retention_years.value == 2
    assert US.inventory_interval_years.value == 2
    assert [(d.code, d.business_days, d.calendar_days) for d in US.deadlines] == [
        ("dea_written_notice", 1, None),
        ("dea_form_106", None, 45),
    ]
    assert "88 FR 40707" in US.deadlines[0].source
    assert [c.code for c in jurisdiction("AU").register_columns] == [
        "date",
        "time",
        "entry",
        "counterparty",
        "authority",
        "quantity_in",
        "quantity_out",
        "balance",
        "person",
        "witness",
    ]


def test_malformed_rulebook_fails_loudly() -> None:
    raw = yaml.safe_load(
        __import__("importlib.resources")
        .resources.files("ketaclinic.core.ledger")
        .joinpath("data/jurisdictions.yaml")
        .read_text("utf-8")
    )
    raw["jurisdictions"]["US"]["retention_years"]["status"] = "X"
    with pytest.raises(RulesError, match=r"jurisdictions.US.retention_years.status"):
        parse_rulebook(raw)
    raw["jurisdictions"]["US"]["retention_years"]["status"] = "V"
    raw["jurisdictions"]["US"]["deadlines"][0]["calendar_days"] = 3
    with pytest.raises(RulesError, match=r"deadlines\[0\]: exactly one"):
        parse_rulebook(raw)
    del raw["jurisdictions"]["US"]["deadlines"][0]["calendar_days"]
    raw["jurisdictions"]["UK"]["register"]["columns"][0]["code"] = "colour"
    with pytest.raises(RulesError, match="unknown column 'colour'"):
        parse_rulebook(raw)


def test_us_federal_holidays_2026() -> None:
    assert sorted(us_federal_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 10, 12),
        date(2026, 11, 11),
        date(2026, 11, 26),
        date(2026, 12, 25),
    ]
    assert date(2021, 12, 31) in us_federal_holidays(2021)  # 1 Jan 2022 was a Saturday


@pytest.mark.parametrize(
    ("discovered", "notice", "form106"),
    [
        (date(2026, 3, 2), date(2026, 3, 3), date(2026, 4, 16)),  # Monday -> Tuesday
        (date(2026, 3, 6), date(2026, 3, 9), date(2026, 4, 20)),  # Friday -> Monday
        (date(2026, 3, 7), date(2026, 3, 9), date(2026, 4, 21)),  # Saturday -> Monday
        (date(2026, 11, 25), date(2026, 11, 27), date(2027, 1, 9)),  # Thanksgiving skipped
        (date(2026, 7, 2), date(2026, 7, 6), date(2026, 8, 16)),  # 3 Jul observed, weekend
    ],
)
def test_us_theft_loss_deadlines(discovered: date, notice: date, form106: date) -> None:
    deadlines = report_deadlines(discovered, US)
    assert [(d.code, d.due) for d in deadlines] == [("dea_written_notice", notice), ("dea_form_106", form106)]


def test_closures_and_other_jurisdictions() -> None:
    assert add_business_days(date(2026, 3, 2), 1, closures=frozenset({date(2026, 3, 3)})) == date(2026, 3, 4)
    assert report_deadlines(date(2026, 3, 2), jurisdiction("UK")) == ()


def test_inventory_due() -> None:
    assert next_inventory_due(date(2024, 2, 29), US) == date(2026, 2, 28)
    assert next_inventory_due(date(2025, 5, 1), US) == date(2027, 5, 1)
    assert next_inventory_due(None, US) == date.min
    assert next_inventory_due(None, jurisdiction("UK")) is None


def _issues(t: EntryType, **kw: object) -> list[tuple[str, str]]:
    base: dict[str, object] = {"rules": US, "quantity": D(1), "actor": "u1"}
    base.update(kw)
    return [(i.field, i.message) for i in check_entry(t, **base)]  # type: ignore[arg-type]


def test_valid_entries_have_no_issues() -> None:
    assert _issues(EntryType.RECEIPT, location="safe") == []
    assert _issues(EntryType.TRANSFER, location="safe", to_location="cart") == []
    assert _issues(EntryType.WITHDRAWAL, location="safe", session="s") == []
    assert _issues(EntryType.ADMINISTRATION, location="safe", session="s", patient="p") == []
    assert _issues(EntryType.WASTE, location="safe", session="s", witnesses=("u2",)) == []
    assert _issues(EntryType.WASTE, location="safe", witnesses=("u2", "u3")) == []
    assert _issues(EntryType.RETURN_TO_STOCK, location="safe", session="s") == []
    assert _issues(EntryType.RETURN_TO_SUPPLIER, location="safe") == []
    assert _issues(EntryType.DESTRUCTION, location="safe", witnesses=("u2", "u3"), reason="expired") == []
    assert _issues(EntryType.COUNT, location="safe", quantity=D(0), expected_quantity=D(2)) == []
    assert _issues(EntryType.ADJUSTMENT, location="safe", quantity=D(-1), reason="miscount") == []
    assert _issues(EntryType.THEFT_LOSS, location="safe", reason="vial missing") == []


def test_refusals_name_the_field() -> None:
    assert _issues(EntryType.RECEIPT, quantity=D(0), location="safe") == [
        ("quantity", "must be greater than zero")
    ]
    assert _issues(EntryType.RECEIPT) == [("location", "a storage location is required")]
    assert _issues(EntryType.TRANSFER, location="a", to_location="a") == [
        ("to_location", "must differ from the source location")
    ]
    assert _issues(EntryType.ADMINISTRATION, location="safe", session="s") == [
        ("patient", "an administration names the patient")
    ]
    assert _issues(EntryType.ADJUSTMENT, location="safe", quantity=D(0)) == [
        ("quantity", "an adjustment must change the balance (non-zero)"),
        ("reason", "an adjustment needs a reason"),
    ]
    waste = _issues(EntryType.WASTE, location="safe", session="s")
    assert [f for f, _ in waste] == ["witnesses"]
    assert waste[0][1].startswith("a waste needs 1 witness (US: ")
    destruction = _issues(EntryType.DESTRUCTION, location="safe", witnesses=("u2",), reason="expired")
    assert destruction[0][1].startswith("a destruction needs 2 witnesses (US: 21 CFR 1317.95(d)")
    assert _issues(EntryType.WASTE, location="safe", session="s", witnesses=("u1",)) == [
        ("witnesses", "the person recording the entry cannot also be its witness"),
        ("witnesses", waste[0][1]),
    ]
    assert ("witnesses", "the same person cannot witness twice") in _issues(
        EntryType.DESTRUCTION, location="safe", witnesses=("u2", "u2"), reason="x"
    )
    assert _issues(EntryType.RECEIPT, location="safe", session="s") == [
        ("session", "a receipt is not tied to a session")
    ]
    assert _issues(EntryType.COUNT, location="safe") == [
        ("expected_quantity", "a count records the expected balance")
    ]
    assert _issues(EntryType.RECEIPT, location="safe", quantity=D("NaN")) == [
        ("quantity", "must be a number")
    ]
    assert isinstance(check_entry(EntryType.RECEIPT, rules=US, quantity=D(0), actor="u")[0], Issue)
