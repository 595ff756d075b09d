"""`ketaclinic mme MEDICATIONS.json --json`: exit codes, one JSON object, the example file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mme-medications.json"


def _run(tmp_path: Path, payload: object, *extra: str) -> tuple[int, str, str]:
    f = tmp_path / "meds.json"
    f.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    r = runner.invoke(app, ["mme", str(f), *extra])
    return r.exit_code, r.stdout, r.stderr


def test_example_file_json() -> None:
    r = runner.invoke(app, ["mme", str(EXAMPLE), "--json"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("\n") == 1
    out = json.loads(r.stdout)
    assert (out["total_mme_per_day"], out["complete"]) == (58.8, False)
    assert out["items"] == [
        {"name": "oxycodone", "mme_per_day": 30, "factor": 1.5},
        {"name": "fentanyl", "mme_per_day": 28.8, "factor": 2.4},
        {"name": "buprenorphine", "mme_per_day": None, "factor": None},
    ]
    assert [(f["code"], f["level"]) for f in out["findings"]] == [
        ("mme_50_or_more", "warn"),
        ("naloxone_offer", "prompt"),
        ("benzodiazepine_with_opioid", "warn"),
        ("not_convertible", "info"),
    ]


def test_plain_text(tmp_path: Path) -> None:
    code, out, _ = _run(
        tmp_path,
        {
            "medications": [
                {"name": "morphine", "route": "oral", "dose": 15, "unit": "mg", "doses_per_day": 2}
            ]
        },
    )
    assert code == 0
    assert out.splitlines() == [
        "Opioid load: 30 MME/day [factors cdc-2022.1]",
        "  morphine (oral): 30 mg/day x 1 = 30 MME/day",
    ]


def test_unknown_drug_exits_2_naming_the_item(tmp_path: Path) -> None:
    code, out, err = _run(
        tmp_path,
        {"medications": [{"name": "kratom", "route": "oral", "dose": 2, "unit": "mg", "doses_per_day": 1}]},
        "--json",
    )
    assert (code, out) == (2, "")
    assert "medications[0].name" in err and "kratom" in err


def test_bad_json_and_missing_file_exit_2(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, "{nope", "--json")
    assert (code, out) == (2, "") and "not valid JSON" in err
    r = runner.invoke(app, ["mme", str(tmp_path / "absent.json"), "--json"])
    assert r.exit_code == 2 and "cannot read" in r.stderr
