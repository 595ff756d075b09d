"""Instrument data files: every file loads, carries version/licence/source/LOINC, and malformed files fail loudly."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml

from ketaclinic.core.instruments import (
    INSTRUMENT_IDS,
    DefinitionError,
    UnknownInstrumentError,
    load_instrument,
)
from ketaclinic.core.instruments.definitions import parse_instrument


def raw(iid: str) -> dict[str, Any]:
    text = resources.files("ketaclinic.core.instruments").joinpath("data", f"{iid}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
def test_every_definition_has_version_licence_source(iid: str) -> None:
    d = load_instrument(iid)
    assert d.id == iid
    assert d.version == "1.0.0"
    assert d.licence and d.source
    if d.bands:
        assert d.bands_source


def test_wording_only_for_licensed_instruments() -> None:
    with_text = {i for i in INSTRUMENT_IDS if any(it.text for it in load_instrument(i).items)}
    assert with_text == {"phq9", "gad7", "pcl5", "pain-nrs", "craving", "side-effects"}  # own wording
    for i in with_text:
        assert all(it.text for it in load_instrument(i).items)


def test_loinc_codes() -> None:
    phq9 = load_instrument("phq9")
    assert (phq9.loinc_panel and phq9.loinc_panel.code, phq9.loinc_total and phq9.loinc_total.code) == (
        "44249-1",
        "44261-6",
    )
    assert phq9.items[8].loinc == "44260-8"
    assert [o.loinc_answer for o in phq9.items[0].options] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    gad7 = load_instrument("gad7")
    assert (gad7.loinc_panel and gad7.loinc_panel.code, gad7.loinc_total and gad7.loinc_total.code) == (
        "69737-5",
        "70274-6",
    )
    pcl5 = load_instrument("pcl5")
    assert (pcl5.loinc_panel and pcl5.loinc_panel.code, pcl5.loinc_total and pcl5.loinc_total.code) == (
        "101697-1",
        "101698-9",
    )
    cssrs = load_instrument("cssrs-screener")
    assert cssrs.loinc_panel and cssrs.loinc_panel.code == "93373-9"
    assert cssrs.loinc_risk_level and cssrs.loinc_risk_level.code == "93374-7"
    pain = load_instrument("pain-nrs")
    assert pain.loinc_total and pain.loinc_total.code == "72514-3"
    for iid in ("madrs", "qids-sr16", "ybocs", "ymrs", "cadss", "moaas", "bpic-ss"):
        d = load_instrument(iid)
        assert d.loinc_panel is None and d.loinc_total is None


def test_unknown_instrument() -> None:
    with pytest.raises(UnknownInstrumentError) as exc:
        load_instrument("hamd17")
    assert "unknown instrument 'hamd17'" in str(exc.value)


def _broken(mutate: Any, iid: str = "phq9") -> dict[str, Any]:
    data = copy.deepcopy(raw(iid))
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("version"), "missing key 'version'"),
        (lambda d: d["bands"]["levels"][1].update(low=6), "not contiguous"),
        (lambda d: d["bands"]["levels"][-1].update(high=26), "must cover the total range 0-27"),
        (lambda d: d["items"][0].update(n=3), "items[0].n: expected 1"),
        (lambda d: d["items"][0].update(response_set="nope"), "unknown set 'nope'"),
        (lambda d: d["flags"][0]["when"].update(op="approx"), "is not one of"),
        (lambda d: d["flags"][0]["when"].update(item=10), "is not an item"),
        (lambda d: d["flags"][0].pop("source"), "missing key 'source'"),
        (lambda d: d["bands"].pop("source"), "bands: missing key 'source'"),
        (lambda d: d["response_sets"]["frequency"][2].update(value=5), "consecutive integers"),
        (lambda d: d.update(wording_included=False), "licence does not allow it"),
    ],
)
def test_malformed_definition_fails_loudly(mutate: Any, fragment: str) -> None:
    with pytest.raises(DefinitionError) as exc:
        parse_instrument(_broken(mutate), "phq9.yaml")
    assert fragment in str(exc.value)
    assert str(exc.value).startswith("phq9.yaml")


def test_qids_domains_must_cover_all_items() -> None:
    data = _broken(lambda d: d["scoring"]["domains"].pop(), "qids-sr16")
    with pytest.raises(DefinitionError) as exc:
        parse_instrument(data, "qids-sr16.yaml")
    assert "every item must belong to exactly one domain" in str(exc.value)


def test_cssrs_risk_order_must_match_levels() -> None:
    data = _broken(lambda d: d["risk"].update(order=["none", "low", "high"]), "cssrs-screener")
    with pytest.raises(DefinitionError) as exc:
        parse_instrument(data, "cssrs-screener.yaml")
    assert "risk.order" in str(exc.value)
