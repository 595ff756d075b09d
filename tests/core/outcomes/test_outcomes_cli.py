"""`ketaclinic outcomes COHORT.json --json` per docs/cli.md: one JSON object, exit 2 naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ketaclinic.cli import app

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "outcomes-cohort.json"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_json_output_is_one_object_with_the_contract_keys() -> None:
    code, out, err = invoke("outcomes", str(EXAMPLE), "--json")
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert len(lines) == 1
    obj: dict[str, Any] = json.loads(lines[0])
    assert {
        "n",
        "evaluable",
        "response",
        "remission",
        "response_last",
        "median_days_to_response",
    } <= obj.keys()
    assert (obj["n"], obj["evaluable"], obj["median_days_to_response"]) == (7, 4, 3.5)
    for key in ("response", "remission", "response_last"):
        assert set(obj[key]) == {"n", "rate", "ci95"}
    assert obj["response"]["n"] == 3
    lo, hi = obj["response"]["ci95"]
    assert (round(lo, 4), round(hi, 4)) == (0.3006, 0.9544)


def test_text_output_reads_as_words() -> None:
    code, out, _ = invoke("outcomes", str(EXAMPLE))
    assert code == 0
    assert "response (any time): 3 of 4, 75.0 % (95 % CI 30.1 % to 95.4 %)" in out
    assert "median days to first response: 3.50" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"instrument": "phq9", "patients": [{"id": "a", "scores": [{"time": "x", "total": 1}]}]}',
            "patients[0].scores[0].time",
        ),
        ('{"instrument": "gad9", "patients": []}', "instrument: unknown"),
        ("not json", "COHORT:"),
    ],
)
def test_bad_input_exits_2_naming_the_field(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "c.json"
    f.write_text(content)
    code, out, err = invoke("outcomes", str(f), "--json")
    assert code == 2
    assert out == ""
    assert message in err


def test_missing_file_exits_2() -> None:
    code, out, err = invoke("outcomes", "/nonexistent/cohort.json", "--json")
    assert (code, out) == (2, "")
    assert "COHORT: cannot read" in err


def test_ybocs_cohort_counts_a_35_percent_reduction_as_response(tmp_path: Path) -> None:
    # Mataix-Cols 2016: 20 -> 13 (35 %) responds, 20 -> 14 (30 %) does not; 12 or less remits.
    cohort = {
        "instrument": "ybocs",
        "patients": [
            {
                "id": p,
                "first_dose": "2026-03-02T09:00:00+00:00",
                "scores": [
                    {"time": "2026-03-01T09:00:00+00:00", "total": 20},
                    {"time": "2026-03-09T09:00:00+00:00", "total": after},
                ],
            }
            for p, after in (("a", 13), ("b", 14), ("c", 12))
        ],
    }
    f = tmp_path / "cohort.json"
    f.write_text(json.dumps(cohort))
    code, out, _ = invoke("outcomes", str(f), "--json")
    obj = json.loads(out)
    assert code == 0
    assert (obj["evaluable"], obj["response"]["n"], obj["remission"]["n"]) == (3, 2, 1)
