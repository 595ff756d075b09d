"""`ketaclinic dose-check` and `ketaclinic protocols` exactly per docs/cli.md."""

from __future__ import annotations

import json
from pathlib import Path

from tests.core.protocols.protocol_helpers import at, dose, esk, request
from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()


def _run(tmp_path: Path, payload: object) -> tuple[int, str, str]:
    f = tmp_path / "req.json"
    f.write_text(json.dumps(payload) if not isinstance(payload, str) else payload)
    r = runner.invoke(app, ["dose-check", str(f), "--json"])
    return r.exit_code, r.stdout, r.stderr


def test_allow(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, request("iv-racemic-depression", dose(at(), 35, duration_min=40)))
    assert code == 0
    assert json.loads(out) == {"decision": "allow", "findings": []}


def test_block_output_shape(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, request("esketamine-trd", esk(at(days=3), 70), [esk(at(), 56)]))
    assert code == 0
    data = json.loads(out)
    assert data["decision"] == "block"
    assert [(f["code"], f["level"]) for f in data["findings"]] == [("invalid_device_multiple", "block")]
    assert set(data["findings"][0]) == {"code", "level", "message"}
    assert out.count("\n") == 1


def test_bad_input_exits_2_naming_the_field(tmp_path: Path) -> None:
    code, out, err = _run(
        tmp_path,
        {
            "patient": {"weight_kg": 70},
            "protocol": "iv-racemic-depression",
            "proposed": {"time": at(), "drug": "ketamine", "route": "iv"},
        },
    )
    assert (code, out) == (2, "")
    assert "proposed.dose_mg" in err


def test_unknown_protocol_and_invalid_json_exit_2(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, request("nope", dose(at(), 35)))
    assert code == 2 and "protocol" in err and "iv-racemic-depression" in err
    code, _, err = _run(tmp_path, "{not json")
    assert code == 2 and "not valid JSON" in err
    r = runner.invoke(app, ["dose-check", str(tmp_path / "missing.json"), "--json"])
    assert r.exit_code == 2 and "cannot read" in r.stderr


def test_protocol_route_mismatch_exits_2(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, request("esketamine-trd", dose(at(), 56)))
    assert code == 2 and "proposed.drug" in err


def test_protocols_lists_ids_with_sources() -> None:
    r = runner.invoke(app, ["protocols", "--json"])
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert list(data) == ["protocols"]
    ids = [p["id"] for p in data["protocols"]]
    assert "esketamine-trd" in ids and "iv-racemic-depression" in ids
    esk_p = next(p for p in data["protocols"] if p["id"] == "esketamine-trd")
    assert esk_p["definition"]["device_mg"]["value"] == 28
    assert "SPRAVATO" in esk_p["definition"]["device_mg"]["source"]


def test_pain_infusion_over_24_hours_is_blocked_by_the_cli(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, request("iv-ketamine-chronic-pain", dose(at(), 840, duration_min=1440)))
    assert code == 0
    data = json.loads(out)
    assert data["decision"] == "block"
    assert [(f["code"], f["level"]) for f in data["findings"]] == [
        ("duration_exceeded", "block"),
        ("session_total_exceeded", "block"),
    ]


def test_depression_push_and_minor_esketamine_patient_are_blocked_by_the_cli(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, request("iv-racemic-depression", dose(at(), 35, duration_min=2)))
    assert (code, json.loads(out)["decision"]) == (0, "block")
    assert "bolus_exceeded" in [f["code"] for f in json.loads(out)["findings"]]
    req = request("esketamine-trd", esk(at(), 56), birth_date="2010-01-01")
    code, out, _ = _run(tmp_path, req)
    assert json.loads(out)["findings"][0]["code"] == "age_below_label"


def test_previous_weight_is_read_and_validated(tmp_path: Path) -> None:
    req = request("iv-racemic-depression", dose(at(), 35, duration_min=40), weight=154)
    req["patient"].update(previous_weight_kg=70, previous_weight_date="2025-01-02")
    code, out, _ = _run(tmp_path, req)
    assert (code, json.loads(out)["decision"]) == (0, "warn")
    assert [f["code"] for f in json.loads(out)["findings"]] == ["weight_changed"]
    req["patient"]["previous_weight_date"] = "yesterday"
    code, out, err = _run(tmp_path, req)
    assert (code, out) == (2, "") and "patient.previous_weight_date" in err
