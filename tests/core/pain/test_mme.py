"""MME/day engine: every CDC 2022 factor, the patch rule, buprenorphine, routes, findings and bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.pain.mme import (
    MmeInputError,
    calculate_mme,
    load_mme_table,
    mme_for,
    parse_mme_request,
)

# The CDC 2022 table (Dowell 2022, MMWR Recomm Rep 71(3), Table), typed in independently of the data file
# so that a drifting factor fails here; RxNorm ingredient codes as in CDC's computable factor CodeSystem.
CDC_2022: dict[str, tuple[str, str]] = {
    "codeine": ("2670", "0.15"),
    "fentanyl": ("4337", "2.4"),
    "hydrocodone": ("5489", "1.0"),
    "hydromorphone": ("3423", "5.0"),
    "methadone": ("6813", "4.7"),
    "morphine": ("7052", "1.0"),
    "oxycodone": ("7804", "1.5"),
    "oxymorphone": ("7814", "3.0"),
    "tapentadol": ("787390", "0.4"),
    "tramadol": ("10689", "0.2"),
}


def med(
    name: str = "oxycodone", *, route: str = "oral", dose: Any = 10, unit: str = "mg", dpd: Any = 2
) -> dict[str, Any]:
    return {"name": name, "route": route, "dose": dose, "unit": unit, "doses_per_day": dpd}


def run(*meds: dict[str, Any], **flags: Any) -> dict[str, Any]:
    return mme_for({"medications": list(meds), **flags}).to_dict()


def codes(out: dict[str, Any]) -> list[str]:
    return [f["code"] for f in out["findings"]]


def test_table_matches_the_cdc_2022_table_exactly() -> None:
    table = load_mme_table()
    convertible = {o.name: (o.rxcui, o.factor) for o in table.opioids if o.factor is not None}
    assert convertible == {n: (rx, Decimal(f)) for n, (rx, f) in CDC_2022.items()}
    bup = table.by_name("buprenorphine")
    assert bup is not None and (bup.rxcui, bup.factor) == ("1819", None)
    assert all(o.source.startswith("Dowell 2022") for o in table.opioids)
    assert (table.warn_mme, table.high_mme) == (50, 90)


def test_methadone_has_one_factor_at_every_dose() -> None:
    # The 2016 guideline tiered methadone (4/8/10/12 by daily dose); the 2022 table has a single 4.7.
    for daily, mme in ((5, 23.5), (20, 94), (40, 188), (60, 282), (100, 470)):
        out = run(med("methadone", dose=daily, dpd=1))
        assert out["items"] == [{"name": "methadone", "mme_per_day": mme, "factor": 4.7}]


@pytest.mark.parametrize(("name", "rxcui_factor"), sorted(CDC_2022.items()))
def test_every_factor_by_name_and_by_rxcui(name: str, rxcui_factor: tuple[str, str]) -> None:
    rxcui, factor = rxcui_factor
    if name == "fentanyl":
        line: dict[str, Any] = {"route": "transdermal", "dose": 25, "unit": "mcg/h"}
        expected = Decimal(25) * Decimal(factor)
    else:
        line = {"route": "oral", "dose": 10, "unit": "mg", "doses_per_day": 3}
        expected = Decimal(30) * Decimal(factor)
    by_name = mme_for({"medications": [{"name": name, **line}]})
    by_code = mme_for({"medications": [{"rxcui": rxcui, **line}]})
    by_int_code = mme_for({"medications": [{"rxcui": int(rxcui), **line}]})
    for r in (by_name, by_code, by_int_code):
        assert r.total_mme_per_day == expected
        assert (r.items[0].name, r.items[0].factor, r.complete) == (name, Decimal(factor), True)


def test_worked_examples_from_the_table_footnote() -> None:
    # Hydrocodone 5 mg four times a day = 20 MME/day; oxycodone ER 10 mg twice a day = 30 MME/day.
    assert run(med("hydrocodone", dose=5, dpd=4))["total_mme_per_day"] == 20
    assert run(med("oxycodone", dose=10, dpd=2))["total_mme_per_day"] == 30


def test_exact_output_shape_of_a_mixed_list() -> None:
    out = run(
        med("oxycodone", dose=10, dpd=2),
        {"name": "fentanyl", "route": "transdermal", "dose": 12, "unit": "mcg/h", "doses_per_day": 1},
        med("codeine", dose=30, dpd=4),
    )
    assert out == {
        "total_mme_per_day": 76.8,
        "complete": True,
        "items": [
            {"name": "oxycodone", "mme_per_day": 30, "factor": 1.5},
            {"name": "fentanyl", "mme_per_day": 28.8, "factor": 2.4},
            {"name": "codeine", "mme_per_day": 18, "factor": 0.15},
        ],
        "findings": out["findings"],
    }
    assert [(f["code"], f["level"]) for f in out["findings"]] == [
        ("mme_50_or_more", "warn"),
        ("naloxone_offer", "prompt"),
    ]
    assert all(set(f) == {"code", "level", "message", "source"} for f in out["findings"])
    assert "76.8 MME/day" in out["findings"][0]["message"]


@pytest.mark.parametrize("dpd", [1, 3, 0.5, "ignored", None])
def test_fentanyl_patch_is_mcg_per_hour_times_2_4_and_ignores_doses_per_day(dpd: Any) -> None:
    line: dict[str, Any] = {"name": "fentanyl", "route": "transdermal", "dose": 25, "unit": "mcg/h"}
    if dpd is not None:
        line["doses_per_day"] = dpd
    out = run(line)
    assert out["items"] == [{"name": "fentanyl", "mme_per_day": 60, "factor": 2.4}]
    assert out["total_mme_per_day"] == 60


@pytest.mark.parametrize("route", ["patch", "TD", "Transdermal"])
def test_patch_route_synonyms(route: str) -> None:
    assert run({"name": "fentanyl", "route": route, "dose": 50, "unit": "mcg/h"})["total_mme_per_day"] == 120


def test_buprenorphine_is_listed_but_not_convertible() -> None:
    out = run(med("oxycodone", dose=5, dpd=2), med("buprenorphine", route="sublingual", dose=8, dpd=2))
    assert out["total_mme_per_day"] == 15
    assert out["complete"] is False
    assert out["items"][1] == {"name": "buprenorphine", "mme_per_day": None, "factor": None}
    [nc] = [f for f in out["findings"] if f["code"] == "not_convertible"]
    assert nc["level"] == "info"
    assert "partial agonist" in nc["message"] and "lower bound" in nc["message"]


def test_buprenorphine_patch_in_mcg_per_hour_and_by_rxcui() -> None:
    out = run({"rxcui": "1819", "route": "transdermal", "dose": 10, "unit": "mcg/h"})
    assert out == {
        "total_mme_per_day": 0,
        "complete": False,
        "items": [{"name": "buprenorphine", "mme_per_day": None, "factor": None}],
        "findings": out["findings"],
    }
    assert codes(out) == ["not_convertible"]


@pytest.mark.parametrize(
    ("name", "route"), [("morphine", "iv"), ("hydromorphone", "subcutaneous"), ("fentanyl", "buccal")]
)
def test_routes_without_a_factor_are_not_converted(name: str, route: str) -> None:
    unit = "mg"
    out = run(med(name, route=route, dose=2, unit=unit, dpd=4), med("morphine", dose=15, dpd=2))
    assert out["total_mme_per_day"] == 30
    assert out["complete"] is False
    assert out["items"][0] == {"name": name, "mme_per_day": None, "factor": None}
    assert codes(out) == ["not_convertible"]


def test_fentanyl_infusion_in_mcg_per_hour_is_not_a_patch() -> None:
    out = run({"name": "fentanyl", "route": "iv", "dose": 25, "unit": "mcg/h"})
    assert (out["total_mme_per_day"], out["complete"], codes(out)) == (0, False, ["not_convertible"])


def test_empty_list_is_zero_and_complete_without_findings() -> None:
    assert run() == {"total_mme_per_day": 0, "complete": True, "items": [], "findings": []}
    # no opioid: neither a benzodiazepine nor an overdose history makes a finding
    assert run(benzodiazepine=True, overdose_history=True)["findings"] == []


@pytest.mark.parametrize(
    ("daily_oxycodone_mg", "expected"),
    [
        (20, []),  # 30 MME
        (33, []),  # 49.5 MME
        (34, ["mme_50_or_more", "naloxone_offer"]),  # 51
        (60, ["mme_50_or_more", "mme_90_or_more", "naloxone_offer"]),  # exactly 90
        (58, ["mme_50_or_more", "naloxone_offer"]),  # 87
    ],
)
def test_thresholds(daily_oxycodone_mg: int, expected: list[str]) -> None:
    assert codes(run(med("oxycodone", dose=daily_oxycodone_mg, dpd=1))) == expected


def test_exactly_50_warns() -> None:
    out = run(med("morphine", dose=25, dpd=2))
    assert (out["total_mme_per_day"], codes(out)) == (50, ["mme_50_or_more", "naloxone_offer"])


def test_benzodiazepine_and_overdose_history() -> None:
    low = med("tramadol", dose=50, dpd=2)  # 20 MME
    assert codes(run(low, benzodiazepine=True)) == ["naloxone_offer", "benzodiazepine_with_opioid"]
    out = run(low, overdose_history=True)
    assert codes(out) == ["naloxone_offer"]
    assert "history of overdose" in out["findings"][0]["message"]
    assert codes(run(low, benzodiazepine=False, overdose_history=False)) == []
    both = run(low, benzodiazepine=True, overdose_history=True)
    assert "a benzodiazepine is also prescribed; history of overdose" in both["findings"][0]["message"]


def test_buprenorphine_alone_with_benzodiazepine_still_prompts_naloxone() -> None:
    out = run(med("buprenorphine", route="sublingual", dose=8, dpd=1), benzodiazepine=True)
    assert codes(out) == ["naloxone_offer", "benzodiazepine_with_opioid", "not_convertible"]


def test_names_ignore_case_salts_and_accept_brands() -> None:
    for name in ("Oxycodone", "oxycodone hydrochloride", "OXYCODONE HCl", "OxyContin"):
        assert run(med(name))["items"][0]["name"] == "oxycodone"
    assert run(med("morphine sulfate"))["items"][0]["name"] == "morphine"


def test_rounding_half_away_from_zero_to_two_decimals() -> None:
    # codeine 0.15 x 0.1 mg = 0.015 -> 0.02 (banker's rounding would give 0.02 too; 0.025 tells them apart)
    assert run(med("codeine", dose=0.1, dpd=1))["total_mme_per_day"] == 0.02
    # tramadol 0.2 x 0.125 mg = 0.025 -> 0.03 (half away from zero), not 0.02
    assert run(med("tramadol", dose=0.125, dpd=1))["total_mme_per_day"] == 0.03


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ([], "MEDICATIONS", "JSON object"),
        ({}, "medications", "required"),
        ({"medications": {}}, "medications", "list"),
        ({"medications": [7]}, "medications[0]", "object"),
        ({"medications": [med("gabapentin")]}, "medications[0].name", "unknown opioid"),
        ({"medications": [med("heroin")]}, "medications[0].name", "guessed MME is dangerous"),
        (
            {
                "medications": [
                    {"rxcui": "99999", "route": "oral", "dose": 1, "unit": "mg", "doses_per_day": 1}
                ]
            },
            "medications[0].rxcui",
            "not the RxNorm",
        ),
        ({"medications": [{**med("morphine"), "rxcui": "7804"}]}, "medications[0].rxcui", "oxycodone"),
        (
            {"medications": [{"route": "oral", "dose": 1, "unit": "mg", "doses_per_day": 1}]},
            "medications[0].name",
            "rxcui",
        ),
        ({"medications": [med(), med(route="")]}, "medications[1].route", "required"),
        ({"medications": [med(route="by magic")]}, "medications[0].route", "unknown route"),
        ({"medications": [med(dose=0)]}, "medications[0].dose", "greater than 0"),
        ({"medications": [med(dose=-5)]}, "medications[0].dose", "greater than 0"),
        ({"medications": [med(dose="10")]}, "medications[0].dose", "number"),
        ({"medications": [med(dose=True)]}, "medications[0].dose", "number"),
        ({"medications": [med(unit="g")]}, "medications[0].unit", "mg or mcg/h"),
        ({"medications": [med(unit="mcg/h")]}, "medications[0].unit", "patch strength"),
        ({"medications": [med("fentanyl", route="transdermal", unit="mg")]}, "medications[0].unit", "mcg/h"),
        ({"medications": [med(dpd=None)]}, "medications[0].doses_per_day", "number"),
        ({"medications": [med(dpd=0)]}, "medications[0].doses_per_day", "greater than 0"),
        ({"medications": [med(dpd=25)]}, "medications[0].doses_per_day", "more than 24"),
        ({"medications": [], "benzodiazepine": "yes"}, "benzodiazepine", "true or false"),
        ({"medications": [], "overdose_history": 1}, "overdose_history", "true or false"),
    ],
)
def test_bad_input_names_the_field(payload: Any, field: str, fragment: str) -> None:
    with pytest.raises(MmeInputError) as exc:
        parse_mme_request(payload)
    assert exc.value.field == field
    assert fragment in exc.value.reason


def test_result_is_frozen() -> None:
    r = calculate_mme(parse_mme_request({"medications": [med()]}))
    with pytest.raises(AttributeError):
        r.complete = False  # type: ignore[misc]


@settings(max_examples=80, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(sorted(n for n in CDC_2022 if n != "fentanyl")),
            st.integers(1, 400),
            st.integers(1, 6),
        ),
        max_size=6,
    )
)
def test_total_is_the_sum_of_the_items_and_findings_follow_the_total(
    lines: list[tuple[str, int, int]],
) -> None:
    out = run(*(med(n, dose=d, dpd=k) for n, d, k in lines))
    expected = sum((Decimal(d * k) * Decimal(CDC_2022[n][1]) for n, d, k in lines), Decimal(0))
    assert Decimal(str(out["total_mme_per_day"])) == expected.quantize(Decimal("0.01"))
    assert ("mme_50_or_more" in codes(out)) == (expected >= 50)
    assert ("mme_90_or_more" in codes(out)) == (expected >= 90)
    assert ("naloxone_offer" in codes(out)) == (expected >= 50)
    assert out["complete"] is True
