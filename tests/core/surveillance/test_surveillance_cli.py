"""`ketaclinic surveillance HISTORY.json [--on DATE] --json`: output shape, the example, and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.core.surveillance.surveillance_helpers import assess, dose, history, obs
from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()
EXAMPLE = Path(__file__).parents[3] / "examples" / "surveillance-history.json"


def _run(tmp_path: Path, payload: object, *args: str) -> tuple[int, str, str]:
    f = tmp_path / "history.json"
    f.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    r = runner.invoke(app, ["surveillance", str(f), *args])
    return r.exit_code, r.stdout, r.stderr


def _json(tmp_path: Path, payload: object, *args: str) -> dict[str, Any]:
    code, out, err = _run(tmp_path, payload, *args, "--json")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    obj = json.loads(out)
    assert isinstance(obj, dict)
    return obj


def test_the_documented_example(tmp_path: Path) -> None:
    r = runner.invoke(app, ["surveillance", str(EXAMPLE), "--on", "2026-03-25", "--json"])
    assert r.exit_code == 0
    obj = json.loads(r.stdout)
    assert obj["exposure"] == {
        "sessions": 8,
        "total_mg": 322.0,
        "total_mg_per_kg": 4.6,
        "first_dose": "2026-01-05T10:00:00Z",
        "last_dose": "2026-03-13T10:00:00Z",
    }
    assert [(f["code"], f["level"], f["evidence"]) for f in obj["findings"]] == [
        ("bladder_symptoms", "alert", ["assessments[3]"]),
        ("haematuria", "alert", ["observations[1]"]),
        ("escalation_tolerance", "alert", [f"doses[{i}]" for i in range(8)]),
        ("dependence_screen_due", "due", ["assessments[1]"]),
        ("cognition_screen_due", "due", ["assessments[2]"]),
        ("withdrawal_followup_overdue", "overdue", ["course_end"]),
    ]
    assert (obj["on"], obj["on_treatment"]) == ("2026-03-25", True)


def test_on_defaults_to_today(tmp_path: Path) -> None:
    obj = _json(tmp_path, history())
    assert len(obj["on"]) == 10
    assert obj["findings"] == []


def test_human_output(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, history([dose(0)]), "--on", "2026-01-05")
    assert code == 0
    assert out.splitlines()[0] == "on 2026-01-05: 1 sessions, 35 mg (0.50 mg/kg); on treatment"
    assert "  [due] bladder_screen_due: Bladder symptom score (BPIC-SS): due by 2026-01-05" in out


def test_overrides_file_changes_the_schedule(tmp_path: Path) -> None:
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps({"due_window_days": 0, "items": {"bladder_screen": {"interval_days": 30}}}))
    h = history([dose(0), dose(20)], [assess("bpic-ss", 0, total=1)])
    obj = _json(tmp_path, h, "--on", "2026-02-04", "--overrides", str(ov))
    assert [f["code"] for f in obj["findings"] if f["code"].startswith("bladder")] == ["bladder_screen_due"]
    obj2 = _json(tmp_path, h, "--on", "2026-02-03", "--overrides", str(ov))
    assert [f["code"] for f in obj2["findings"] if f["code"].startswith("bladder")] == []


@pytest.mark.parametrize(
    ("payload", "args", "fragment"),
    [
        ("{not json", (), "HISTORY:"),
        ([], (), "history: must be a JSON object"),
        ({"doses": []}, (), "patient: is required"),
        ({"patient": {}}, (), "patient.weight_kg: is required"),
        ({"patient": {"weight_kg": 0}}, (), "patient.weight_kg: must be greater than 0"),
        ({"patient": {"weight_kg": "70"}}, (), "patient.weight_kg: must be a number"),
        (history([dose(0)]), ("--on", "2026-13-01"), "--on:"),
        ({**history(), "doses": {}}, (), "doses: must be a list"),
        (history([{**dose(0), "time": "2026-01-05T10:00:00"}]), (), "doses[0].time: must include a timezone"),
        (history([dose(0), {**dose(1), "dose_mg": -1}]), (), "doses[1].dose_mg: must be greater than 0"),
        (history([{**dose(0), "drug": "tea"}]), (), "doses[0].drug"),
        (history(assessments=[{"instrument": "moca", "time": "2026-01-05T09:00:00Z", "total": 3}]), (),
         "assessments[0].instrument: unknown instrument 'moca'"),
        (history(assessments=[{"instrument": "sds", "time": "2026-01-05T09:00:00Z"}]), (),
         "assessments[0]: needs answers or a total"),
        (history(assessments=[assess("sds", 0, total=16)]), (), "assessments[0].total: must be between 0 and 15"),
        (history(assessments=[assess("sds", 0, total=2.5)]), (), "assessments[0].total: must be a whole number"),
        (history(assessments=[assess("sds", 0, answers=[0, 0, 0, 0])]), (), "assessments[0].answers: answers:"),
        (history(assessments=[assess("sds", 0, answers=[0, 0, 0, 0, 4])]), (), "assessments[0].answers: item 5:"),
        (history(assessments=[{"instrument": "sds", "time": "yesterday", "total": 1}]), (),
         "assessments[0].time: is not an ISO-8601 date-time"),
        (history(observations=[{"time": "2026-01-05T09:00:00Z", "value": 1}]), (), "observations[0].code: is required"),
        (history(observations=[obs("5794-3", 0, None)]), (), "observations[0].value: is required"),
        (history(observations=[obs("1742-6", 0, "high")]), (), "observations[0].value: a liver enzyme result"),
        (history(observations=[obs("1742-6", 0, 50, reference_high=0)]), (),
         "observations[0].reference_high: must be greater than 0"),
        ({**history(), "course_end": "soon"}, (), "course_end: is not an ISO-8601 date-time"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_field(
    tmp_path: Path, payload: object, args: tuple[str, ...], fragment: str
) -> None:
    code, out, err = _run(tmp_path, payload, *args, "--json")
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert fragment in err


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"items": {"bladder_screen": {"interval_days": 0}}}, "items.bladder_screen.interval_days: must be between"),
        ({"items": {"bladder": {"interval_days": 30}}}, "items.bladder: is not a surveillance item"),
        ({"items": {"bladder_screen": {"label": "x"}}}, "items.bladder_screen.label: cannot be overridden"),
        ({"items": {"urinalysis": {"first_due_session": 3}}}, "items.urinalysis.first_due_session: this item"),
        ({"alerts": {"haematuria": {"total_at_least": 3}}}, "alerts.haematuria.total_at_least: cannot be"),
        ({"alerts": {"escalation_tolerance": {"min_sessions": 6}}}, "alerts.escalation_tolerance.min_sessions"),
        ({"followup_days": [{"day": 28, "met_from_day": 14}, {"day": 7, "met_from_day": 0}]},
         "followup_days[1].day: follow-up days must be in increasing order"),
        ({"colour": "red"}, "colour: cannot be overridden"),
    ],
)  # fmt: skip
def test_bad_overrides_exit_2_naming_the_path(tmp_path: Path, overrides: object, fragment: str) -> None:
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps(overrides))
    code, out, err = _run(tmp_path, history(), "--overrides", str(ov), "--json")
    assert (code, out) == (2, "")
    assert f"--overrides {fragment}" in err
