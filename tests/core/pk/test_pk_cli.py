"""`ketaclinic pk simulate` and `ketaclinic pk models` (docs/cli.md): exact output and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()

IN_84: dict[str, Any] = {
    "patient": {"weight_kg": 70},
    "doses": [{"drug": "esketamine", "route": "intranasal", "amount_mg": 84, "start_min": 0}],
    "times_min": [0, 44, 60],
}
IV: dict[str, Any] = {
    "patient": {"weight_kg": 70, "age": 45, "sex": "female"},
    "doses": [{"drug": "ketamine", "route": "iv", "amount_mg": 35, "start_min": 0, "duration_min": 40}],
    "times_min": [0, 40, 280],
}
IM: dict[str, Any] = {
    "patient": {"weight_kg": 70},
    "doses": [{"drug": "ketamine", "route": "iv", "amount_mg": 35, "start_min": 0}],
    "times_min": [0, 40, 280],
}


def _run(tmp_path: Path, regimen: Any, *args: str) -> Any:
    f = tmp_path / "regimen.json"
    f.write_text(json.dumps(regimen) if not isinstance(regimen, str) else regimen, encoding="utf-8")
    return runner.invoke(app, ["pk", "simulate", str(f), *args])


def test_simulate_typical_exact(tmp_path: Path) -> None:
    r = _run(tmp_path, IV, "--model", "domino", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert {k: out[k] for k in ("model", "analyte", "unit", "times_min")} == {
        "model": "domino",
        "analyte": "ketamine",
        "unit": "ng/mL",
        "times_min": [0.0, 40.0, 280.0],
    }
    assert [round(c, 2) for c in out["concentration"]] == [0.0, 240.33, 13.61]
    assert "percentiles" not in out


def test_simulate_population_exact_keys(tmp_path: Path) -> None:
    r = _run(tmp_path, IN_84, "--model", "perez-ruixo-2021", "--population", "500", "--seed", "4", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "perez-ruixo-2021" and out["analyte"] == "esketamine"
    assert set(out["percentiles"]) == {"5", "50", "95"}
    assert all(len(v) == 3 for v in out["percentiles"].values())
    assert [round(c, 1) for c in out["concentration"]] == [0.0, 101.2, 96.6]
    p5, p50, p95 = (out["percentiles"][k][1] for k in ("5", "50", "95"))
    assert p5 < p50 < p95
    again = json.loads(
        _run(
            tmp_path, IN_84, "--model", "perez-ruixo-2021", "--population", "500", "--seed", "4", "--json"
        ).stdout
    )
    assert again["percentiles"] == out["percentiles"]


def test_simulate_other_analyte(tmp_path: Path) -> None:
    r = _run(tmp_path, IN_84, "--model", "perez-ruixo-2021", "--analyte", "noresketamine", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["analyte"] == "noresketamine"


def test_models_json(tmp_path: Path) -> None:
    r = runner.invoke(app, ["pk", "models", "--json"])
    assert r.exit_code == 0
    models = {m["id"]: m for m in json.loads(r.stdout)["models"]}
    assert sorted(models) == ["clements", "domino", "herd-2007", "hijazi", "kamp-2020", "perez-ruixo-2021"]
    pr = models["perez-ruixo-2021"]
    assert pr["route"] == ["intranasal", "iv", "oral"]
    assert pr["analytes"] == ["esketamine", "noresketamine"]
    assert "Clin Pharmacokinet 2021;60(4):501-516" in pr["citation"]


def _with(base: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(base))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


BAD = [
    (IV, ["patient", "weight_kg"], KeyError, "domino", "patient.weight_kg: required"),
    (IV, ["patient", "weight_kg"], 0, "domino", "patient.weight_kg: 0 kg is implausible"),
    (IV, ["patient", "weight_kg"], 900, "domino", "patient.weight_kg: 900 kg is implausible"),
    (IV, ["patient", "weight_kg"], "70", "domino", "patient.weight_kg: must be a finite number"),
    (IV, ["patient", "age"], 200, "domino", "patient.age: must be 0-120 years"),
    (IV, ["doses", 0, "amount_mg"], 0, "domino", "doses[0].amount_mg: must be > 0"),
    (IV, ["doses", 0, "amount_mg"], -5, "domino", "doses[0].amount_mg: must be > 0"),
    (IV, ["doses", 0, "start_min"], -1, "domino", "doses[0].start_min: must be between 0"),
    (IV, ["doses", 0, "duration_min"], 0, "domino", "doses[0].duration_min: must be > 0"),
    (IV, ["doses", 0, "route"], "rectal", "domino", "doses[0].route: must be one of"),
    (IV, ["doses", 0, "drug"], "propofol", "domino", "doses[0].drug: must be ketamine or esketamine"),
    (IV, ["doses", 0, "drug"], "esketamine", "domino", "doses[0].drug: model domino simulates ketamine"),
    (IV, ["doses", 0, "route"], "intranasal", "domino", "doses[0].duration_min: only an iv dose"),
    (IV, ["doses"], [], "domino", "doses: required, must be a non-empty list"),
    (IV, ["times_min"], [0, 40, 20], "domino", "times_min[2]: times must be sorted ascending"),
    (IV, ["times_min"], [-1, 40], "domino", "times_min[0]: must be >= 0"),
    (IV, ["times_min"], KeyError, "domino", "times_min: required"),
    (IM, ["doses", 0, "route"], "im", "hijazi", "doses[0].route: model hijazi has no im route"),
    (
        IN_84,
        ["doses", 0, "amount_mg"],
        30,
        "perez-ruixo-2021",
        "doses[0].amount_mg: intranasal esketamine is given in 28 mg devices",
    ),
    (
        IN_84,
        ["patient", "flags"],
        ["martian"],
        "perez-ruixo-2021",
        "patient.flags: model perez-ruixo-2021 does not use flag(s) martian",
    ),
]


@pytest.mark.parametrize(("base", "path", "value", "model", "message"), BAD)
def test_bad_regimen_exits_2_naming_the_field(
    tmp_path: Path, base: dict[str, Any], path: list[Any], value: Any, model: str, message: str
) -> None:
    r = _run(tmp_path, _with(base, path, value), "--model", model, "--json")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"error: {message}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "error: --model: unknown model 'nope' (known: clements, domino"),
        (["--model", "domino", "--population", "-1"], "error: --population: must be between 0 and 100000"),
        (
            ["--model", "domino", "--population", "100001"],
            "error: --population: must be between 0 and 100000",
        ),
        (
            ["--model", "domino", "--analyte", "norketamine"],
            "error: --analyte: model domino has no analyte 'norketamine'",
        ),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    r = _run(tmp_path, IV, *args, "--json")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(message)


def test_invalid_json_file_exits_2(tmp_path: Path) -> None:
    r = _run(tmp_path, "{not json", "--model", "domino", "--json")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: REGIMEN:")


def test_population_on_a_model_without_variability_says_so(tmp_path: Path) -> None:
    r = _run(tmp_path, IV, "--model", "domino", "--population", "100", "--seed", "1", "--json")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (
        "error: --population: model domino has no published between-subject variability, so every virtual "
        "patient would be the typical patient; leave out --population, or use a model with variability "
        "(herd-2007)\n"
    )


def test_models_list_routes_once() -> None:
    r = runner.invoke(app, ["pk", "models", "--json"])
    models = json.loads(r.stdout)["models"]
    assert all("routes" not in m for m in models)
    assert next(m for m in models if m["id"] == "hijazi")["route"] == ["iv"]
    text = runner.invoke(app, ["pk", "models"]).stdout
    assert "hijazi: ketamine [iv] analytes ketamine\n" in text
