"""`ketaclinic screen` per docs/cli.md: exact JSON, exit codes, and errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

from screening_helpers import allergy, bp, bundle, condition
from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "hl7-r4-examples.json"


def write(tmp_path: Path, doc: object, name: str = "b.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def test_screen_json_exact(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        bundle(condition("c1", "F20.0"), bp("bp1", 150, 80), allergy("a1", code="8123", text="phenelzine")),
    )
    res = runner.invoke(app, ["screen", path, "--on", "2025-06-15", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["decision"] == "ineligible" and out["ruleset"] == "2026.1.0"
    assert [(f["code"], f["level"], f["evidence"]) for f in out["findings"]] == [
        ("psychotic_disorder", "absolute", ["Condition/c1"]),
        ("elevated_blood_pressure", "relative", ["Observation/bp1"]),
    ]
    assert all(set(f) == {"code", "level", "message", "evidence", "source"} for f in out["findings"])
    assert res.stdout.count("\n") == 1


def test_screen_route_and_default_route_iv(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(bp("bp1", 120, 80), vitals=False))
    iv = json.loads(runner.invoke(app, ["screen", path, "--on", "2025-06-15", "--json"]).stdout)
    assert [f["code"] for f in iv["findings"]] == ["weight_missing"]
    nasal = json.loads(
        runner.invoke(app, ["screen", path, "--on", "2025-06-15", "--route", "intranasal", "--json"]).stdout
    )
    assert nasal == {"decision": "eligible", "findings": [], "ruleset": "2026.1.0"}


def test_screen_hl7_examples(tmp_path: Path) -> None:
    res = runner.invoke(app, ["screen", str(FIXTURE), "--on", "2012-09-17", "--route", "oral", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {"decision": "eligible", "findings": [], "ruleset": "2026.1.0"}


def test_bad_inputs_exit_2_naming_the_field(tmp_path: Path) -> None:
    good = write(tmp_path, bundle())
    r = runner.invoke(app, ["screen", good, "--route", "rectal", "--json"])
    assert (r.exit_code, r.stdout) == (2, "")
    assert "--route: 'rectal' is not one of iv, intranasal, im, oral" in r.stderr
    r = runner.invoke(app, ["screen", good, "--on", "15/06/2025", "--json"])
    assert r.exit_code == 2 and "--on: '15/06/2025' is not a date in the form YYYY-MM-DD" in r.stderr
    missing = str(tmp_path / "nope.json")
    r = runner.invoke(app, ["screen", missing, "--json"])
    assert r.exit_code == 2 and "BUNDLE: cannot read" in r.stderr
    notjson = tmp_path / "x.json"
    notjson.write_text("{", encoding="utf-8")
    r = runner.invoke(app, ["screen", str(notjson), "--json"])
    assert r.exit_code == 2 and "is not valid JSON" in r.stderr


def test_malformed_bundle_exit_2_naming_resource_and_field(tmp_path: Path) -> None:
    c = condition("c1", "I71.2", onsetDateTime="yesterday")
    path = write(tmp_path, bundle(c))
    r = runner.invoke(app, ["screen", path, "--on", "2025-06-15", "--json"])
    assert (r.exit_code, r.stdout) == (2, "")
    assert "malformed intake bundle: Condition/c1: Condition.onsetDateTime:" in r.stderr
    path = write(tmp_path, {"resourceType": "Bundle", "type": "collection", "entry": []}, "empty.json")
    r = runner.invoke(app, ["screen", path, "--json"])
    assert r.exit_code == 2 and "Bundle.entry: no Patient resource" in r.stderr


def test_screen_pregnancy_in_chapter_15_and_breastfeeding(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(condition("c1", "O99.342"), condition("c2", "Z39.1")))
    res = runner.invoke(app, ["screen", path, "--on", "2025-06-15", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["decision"] == "needs_review" and out["ruleset"] == "2026.1.0"
    assert [(f["code"], f["level"], f["evidence"]) for f in out["findings"]] == [
        ("pregnancy", "relative", ["Condition/c1"]),
        ("breastfeeding", "relative", ["Condition/c2"]),
    ]


def test_screen_traumatic_intracerebral_haemorrhage_is_ineligible(tmp_path: Path) -> None:
    path = write(tmp_path, bundle(condition("c1", "S06.340S", clinical="resolved")))
    res = runner.invoke(app, ["screen", path, "--on", "2025-06-15", "--json"])
    out = json.loads(res.stdout)
    assert (res.exit_code, out["decision"]) == (0, "ineligible")
    assert [f["code"] for f in out["findings"]] == ["intracranial_hemorrhage_history"]
