"""`ketaclinic score` and `ketaclinic instruments` exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from ketaclinic.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def score_json(iid: str, answers: str) -> dict[str, Any]:
    code, out, err = run("score", iid, "--answers", answers, "--json")
    assert code == 0, err
    assert err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


@pytest.mark.parametrize(
    ("iid", "answers", "total", "severity", "flags"),
    [
        ("phq9", "0,0,0,0,0,0,0,0,0", 0, "minimal", []),
        ("phq9", "1,1,1,1,1,0,0,0,0", 5, "mild", []),
        ("phq9", "3,3,3,3,3,3,1,0,1", 20, "severe", ["suicidal_ideation"]),
        ("phq9", "3,3,3,3,3,0,2,0,0", 17, "moderately_severe", []),
        ("gad7", "3,3,3,3,3,0,0", 15, "severe", []),
        ("madrs", "1,1,1,1,1,1,0,0,0,0", 6, "normal", []),
        ("madrs", "6,6,6,6,6,5,0,0,0,0", 35, "severe", []),
        ("madrs", "0,0,0,0,0,0,0,0,0,4", 4, "normal", ["suicidal_ideation"]),
        ("qids-sr16", "3,3,3,3,0,3,3,3,3,0,0,0,0,0,3,3", 9, "mild", []),
        ("qids-sr16", "3,0,0,0,3,3,0,0,0,3,3,3,3,3,3,0", 27, "very_severe", ["suicidal_ideation"]),
        ("pcl5", ",".join(["2"] * 16 + ["1"] * 1 + ["0"] * 3), 33, "probable_ptsd", []),
        ("pcl5", ",".join(["2"] * 16 + ["0"] * 4), 32, "below_threshold", []),
        ("ybocs", "4,4,4,4,4,4,4,4,0,0", 32, "extreme", []),
        ("ymrs", "0,0,0,0,8,4,0,0,0,0,0", 12, "hypomanic", []),
        ("ymrs", "4,4,4,4,8,8,4,8,8,4,4", 60, "manic", []),
        ("cadss", ",".join(["4"] * 23), 92, None, []),
        ("moaas", "5", 5, None, []),
        ("moaas", "3", 3, None, ["sedation"]),
        ("moaas", "0", 0, None, ["sedation", "loss_of_consciousness"]),
        ("pain-nrs", "0", 0, "none", []),
        ("pain-nrs", "7", 7, "severe", []),
        ("bpic-ss", "4,4,4,4,4,4,4,10", 38, "clinically_significant", []),
        ("bpic-ss", "2,2,2,2,2,2,2,4", 18, "below_threshold", []),
        ("cssrs-screener", "0,0,0,0,0,0,0", None, "none", []),
        ("cssrs-screener", "1,0,0,0,0,0,0", None, "low", ["suicidal_ideation"]),
        ("cssrs-screener", "0,0,0,0,0,1,0", None, "moderate", []),
        ("cssrs-screener", "1,1,0,0,1,0,0", None, "high", ["suicidal_ideation"]),
        ("cssrs-screener", "0,0,0,0,0,1,1", None, "high", []),
        ("sds", "0,0,0,0,0", 0, None, []),
        ("sds", "1,0,2,0,3", 6, None, []),
        ("sds", "3,3,3,3,3", 15, None, []),
        ("cognition", "26", 26, None, []),
        ("peg", "0,0,0", 0, None, []),
        ("peg", "1,2,2", 1.67, None, []),
        ("peg", "4,5,5", 4.67, None, []),
        ("peg", "10,10,10", 10, None, []),
        ("craving", "7", 7, None, []),
        ("side-effects", "0,0,0,0,0,0,0,0,0,0,0,0", 0, None, []),
        ("side-effects", "1,0,0,0,0,2,0,0,0,0,2,0", 5, None, ["urinary_symptoms", "craving_reported"]),
        ("side-effects", "0,0,0,0,0,1,0,1,0,0,1,0", 3, None, ["urinary_symptoms"]),
    ],
)
def test_score_json_contract(
    iid: str, answers: str, total: int | None, severity: str | None, flags: list[str]
) -> None:
    obj = score_json(iid, answers)
    assert {k: obj[k] for k in ("instrument", "total", "severity", "flags")} == {
        "instrument": iid,
        "total": total,
        "severity": severity,
        "flags": flags,
    }
    assert obj["complete"] is True


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("score", "phq9", "--answers", "0,0,0,0,0,0,0,0"), "answers"),
        (("score", "phq9", "--answers", "0,0,0,0,0,0,0,0,0,0"), "answers"),
        (("score", "phq9", "--answers", "0,0,0,0,0,0,0,0,4"), "item 9"),
        (("score", "gad7", "--answers", "0,0,0,x,0,0,0"), "item 4"),
        (("score", "ymrs", "--answers", "0,0,0,0,9,0,0,0,0,0,0"), "item 5"),
        (("score", "ymrs", "--answers", "0,0,0,5,0,0,0,0,0,0,0"), "item 4"),
        (("score", "cssrs-screener", "--answers", "1,0,1,0,0,0,0"), "item 3"),
        (("score", "cssrs-screener", "--answers", "1,0,0,1,0,0,0"), "item 4"),
        (("score", "cssrs-screener", "--answers", "1,0,0,0,1,0,0"), "item 5"),
        (("score", "cssrs-screener", "--answers", "0,0,0,0,0,0,2"), "item 6b"),
        (("score", "phq9", "--answers", "0,0,0,0,,0,0,0,0"), "item 5"),
        (("score", "nope", "--answers", "1"), "INSTRUMENT"),
        (("score", "sds", "--answers", "0,0,0,0"), "answers"),
        (("score", "sds", "--answers", "0,0,0,0,4"), "item 5"),
        (("score", "cognition", "--answers", "31"), "item 1"),
        (("score", "peg", "--answers", "1,2"), "answers"),
        (("score", "peg", "--answers", "1,2,11"), "item 3"),
        (("score", "peg", "--answers", "-1,2,3"), "item 1"),
    ],
)
def test_bad_input_exits_2_naming_the_item(args: tuple[str, ...], fragment: str) -> None:
    code, out, err = run(*args, "--json")
    assert code == 2
    assert out == ""
    assert fragment in err


def test_partial_with_allow_partial_is_incomplete_and_unscored() -> None:
    code, out, _ = run("score", "phq9", "--answers", "1,1,1,1,,1,1,1,1", "--allow-partial", "--json")
    obj = json.loads(out)
    assert code == 0
    assert (obj["total"], obj["severity"], obj["complete"], obj["missing_items"], obj["flags"]) == (
        None,
        None,
        False,
        ["5"],
        ["suicidal_ideation"],
    )


def test_plain_text_output() -> None:
    code, out, _ = run("score", "phq9", "--answers", "1,2,1,2,1,1,0,1,1")
    assert code == 0
    assert out.splitlines() == [
        "PHQ-9 (v1.0.0)",
        "total: 10 (range 0-27)",
        "severity: moderate (Moderate)",
        "FLAG suicidal_ideation: PHQ-9 item 9 > 0: same-day safety follow-up. "
        "[Kroenke 2001: any positive item 9 calls for a same-day safety assessment [V]]",
    ]


def test_instruments_json_lists_the_library() -> None:
    code, out, _ = run("instruments", "--json")
    assert code == 0
    obj = json.loads(out)
    ids = [i["id"] for i in obj["instruments"]]
    assert ids == [
        "phq9", "gad7", "madrs", "qids-sr16", "pcl5", "ybocs", "ymrs", "cadss", "moaas", "pain-nrs",
        "bpic-ss", "cssrs-screener", "sds", "cognition", "peg", "craving", "side-effects",
    ]  # fmt: skip
    phq9 = obj["instruments"][0]
    assert (phq9["items"], phq9["total_range"], phq9["loinc_total"], phq9["flags"]) == (
        9,
        [0, 27],
        "44261-6",
        ["suicidal_ideation"],
    )
    cssrs = obj["instruments"][ids.index("cssrs-screener")]
    assert (cssrs["total_range"], cssrs["risk_levels"]) == (None, ["none", "low", "moderate", "high"])


@pytest.mark.parametrize(
    ("iid", "answers", "expected"),
    [
        ("qids-sr16", "0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0", True),
        ("qids-sr16", "0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0", False),
        ("cssrs-screener", "1,1,1,0,0,0,0", True),
        ("cssrs-screener", "0,0,0,0,0,1,0", True),
        ("cssrs-screener", "1,0,0,0,0,0,0", False),
        ("madrs", "0,0,0,0,0,0,0,0,0,4", True),
        ("madrs", "0,0,0,0,0,0,0,0,0,3", False),
        ("phq9", "0,0,0,0,0,0,0,0,1", True),
        ("gad7", "3,3,3,3,3,3,3", False),
        ("pain-nrs", "10", False),
    ],
)
def test_every_score_output_carries_suicide_risk(iid: str, answers: str, expected: bool) -> None:
    assert score_json(iid, answers)["suicide_risk"] is expected


def test_qids_item12_two_keeps_the_contract_keys() -> None:
    out = score_json("qids-sr16", "0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0")
    assert (out["instrument"], out["total"], out["severity"], out["flags"], out["suicide_risk"]) == (
        "qids-sr16",
        2,
        "none",
        ["suicidal_ideation"],
        True,
    )


def test_cssrs_q6b_without_q6_exits_2_naming_the_item() -> None:
    code, out, err = run("score", "cssrs-screener", "--answers", "0,0,0,0,0,0,1", "--json")
    assert (code, out) == (2, "")
    assert "item 6b" in err
