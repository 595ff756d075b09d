"""`ketaclinic telehealth VISIT.json`: exact JSON, exit codes, and errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()


def write(tmp_path: Path, doc: object, name: str = "v.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


VISIT = {
    "on": "2027-01-04",
    "modality": "video",
    "jurisdiction": "US-TX",
    "activity": "prescribe",
    "drug": "ketamine",
    "clinician_jurisdictions": ["US-TX"],
    "telehealth_consent": True,
}


def test_telehealth_json_exact(tmp_path: Path) -> None:
    res = runner.invoke(app, ["telehealth", write(tmp_path, VISIT), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["decision"] == "not_allowed" and out["ruleset"] == "2026.1.0"
    assert [(f["code"], f["level"]) for f in out["findings"]] == [
        ("ryan_haight_in_person_evaluation", "block"),
        ("us_state_pdmp_check", "info"),
    ]
    assert all(set(f) == {"code", "level", "message", "source"} for f in out["findings"])
    assert res.stdout.count("\n") == 1


def test_telehealth_with_clinic_policy(tmp_path: Path) -> None:
    v = dict(VISIT, on="2026-12-02", in_person_evaluations=["2026-01-10"])
    pol = write(tmp_path, {"in_person_evaluation_within_days": 365}, "p.json")
    res = runner.invoke(app, ["telehealth", write(tmp_path, v), "--policy", pol, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["decision"] == "allowed"
    assert [f["code"] for f in out["findings"]] == ["us_state_pdmp_check"]
    pol2 = write(tmp_path, {"in_person_evaluation_within_days": 90}, "p2.json")
    out2 = json.loads(
        runner.invoke(app, ["telehealth", write(tmp_path, v), "--policy", pol2, "--json"]).stdout
    )
    assert out2["decision"] == "not_allowed"
    assert out2["findings"][-1]["code"] == "clinic_in_person_evaluation_window"


def test_telehealth_bad_input_exits_2_naming_the_field(tmp_path: Path) -> None:
    res = runner.invoke(app, ["telehealth", write(tmp_path, dict(VISIT, modality="fax")), "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "modality: must be one of in_person, video, telephone" in res.stderr
    pol = write(tmp_path, {"remote_modalities": "video"}, "p.json")
    res = runner.invoke(app, ["telehealth", write(tmp_path, VISIT), "--policy", pol, "--json"])
    assert res.exit_code == 2 and "policy.remote_modalities" in res.stderr
    res = runner.invoke(app, ["telehealth", str(tmp_path / "missing.json"), "--json"])
    assert res.exit_code == 2 and "VISIT: cannot read" in res.stderr
