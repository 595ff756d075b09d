"""Model files: every packaged model loads, states its sources and statuses; malformed models are rejected."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pk_helpers import one_compartment_oral

from ketaclinic.core.pk import ModelError, list_models, load_model, parse_model

EXPECTED = {
    "clements": ("ketamine", {"iv", "im", "oral", "sublingual"}, ["ketamine"]),
    "domino": ("ketamine", {"iv", "im", "oral", "sublingual"}, ["ketamine", "ketamine_effect_site"]),
    "herd-2007": ("ketamine", {"iv"}, ["ketamine"]),
    "hijazi": ("ketamine", {"iv"}, ["ketamine"]),
    "kamp-2020": ("ketamine", {"iv", "im", "oral", "sublingual"}, ["ketamine"]),
    "perez-ruixo-2021": ("esketamine", {"iv", "intranasal", "oral"}, ["esketamine", "noresketamine"]),
}


def test_packaged_models_exactly() -> None:
    got = {m.id: (m.drug, set(m.routes), [a.id for a in m.analytes]) for m in list_models()}
    assert got == EXPECTED


def test_every_parameter_has_status_and_source() -> None:
    for m in list_models():
        assert m.citation and m.population and m.source_status
        for p in m.parameters.values():
            assert p.status in {"V", "S", "R"}, (m.id, p.name)
            assert p.source.strip(), (m.id, p.name)


def test_unit_conversion_and_published_values() -> None:
    pr = load_model("perez-ruixo-2021")
    assert pr.parameters["ka_n"].published_value == 2.93
    assert pr.parameters["ka_n"].value == pytest.approx(2.93 / 60, rel=1e-15)
    assert pr.parameters["Dsw"].value == pytest.approx(0.53 * 60, rel=1e-15)
    assert pr.parameters["Qh"].age_per_year == pytest.approx(-2.19 / 60, rel=1e-15)
    assert pr.parameters["FRn"].iiv is not None and pr.parameters["FRn"].iiv.kind == "logit"
    assert pr.parameters["kmet"].iiv is not None and pr.parameters["kmet"].iiv.status == "R"
    herd = load_model("herd-2007")
    assert herd.parameters["CL"].allometric_exponent == 0.75
    assert herd.has_variability and not load_model("domino").has_variability


def test_summary_keys() -> None:
    s = load_model("domino").summary()
    assert s["route"] == ["im", "iv", "oral", "sublingual"]
    assert s["analytes"] == ["ketamine", "ketamine_effect_site"]
    assert "Domino" in s["citation"]


def test_unknown_model_lists_known_ids() -> None:
    with pytest.raises(KeyError, match="known: clements, domino"):
        load_model("nope")


def _mutated(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(one_compartment_oral(0.05, 0.01))
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["parameters", "V", "unit"], "gallons", "model.parameters.V.unit: unknown unit"),
        (["parameters", "V", "source"], KeyError, "model.parameters.V.source: required"),
        (["parameters", "V", "status"], "X", "model.parameters.V.status: must be one of V, S, R"),
        (["parameters", "V", "value"], -1, "model.parameters.V.value: must be > 0"),
        (["parameters", "F", "value"], 1.5, "model.parameters.F.value: a fraction must be <= 1"),
        (["flows", 0, "rate"], "kz", "model.flows[0].rate: unknown parameter 'kz'"),
        (["flows", 0, "rate"], "V", "model.flows[0].rate: parameter V must be a rate"),
        (["flows", 1, "to"], "nowhere", "model.flows[1].to: unknown or effect-site compartment 'nowhere'"),
        (["routes", "rectal"], {"inputs": [{"to": "gut"}]}, "model.routes.rectal: unknown route"),
        (["routes", "oral", "inputs", 0, "fraction"], ["1-V"], "model.routes.oral.inputs[0].fraction[0]"),
        (
            ["analytes", 0, "compartment"],
            "gut",
            "model.analytes[0].compartment: must be a compartment with a volume",
        ),
        (["version"], 0, "model.version: must be a positive integer"),
        (["drug"], "propofol", "model.drug: must be one of esketamine, ketamine"),
        (["compartments", 1, "id"], "gut", "model.compartments[1].id: duplicate or reserved id 'gut'"),
    ],
)
def test_malformed_model_is_rejected_naming_the_field(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ModelError) as err:
        parse_model(_mutated(path, value))
    assert str(err.value).startswith(message)


def test_iiv_on_a_duration_is_rejected() -> None:
    data = one_compartment_oral(0.05, 0.01)
    data["parameters"]["D"] = {
        "value": 10,
        "unit": "min",
        "status": "R",
        "source": "t",
        "iiv": {"cv_percent": 20, "status": "R"},
    }
    with pytest.raises(ModelError, match=r"model.parameters.D.iiv: variability on a zero-order duration"):
        parse_model(data)
