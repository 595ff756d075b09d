"""Scoring of every instrument: worked examples, every band boundary, flags, C-SSRS skip logic, bad input."""

from __future__ import annotations

import pytest
from instrument_helpers import answers_for_total

from ketaclinic.core.instruments import (
    INSTRUMENT_IDS,
    AnswerError,
    load_instrument,
    parse_answer_text,
    score,
)

# Bands exactly as docs/cli.md states them (independent of the data files, so data drift fails here).
CONTRACT_BANDS: dict[str, list[tuple[str, int, int]]] = {
    "phq9": [
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("moderately_severe", 15, 19),
        ("severe", 20, 27),
    ],
    "gad7": [("minimal", 0, 4), ("mild", 5, 9), ("moderate", 10, 14), ("severe", 15, 21)],
    "madrs": [("normal", 0, 6), ("mild", 7, 19), ("moderate", 20, 34), ("severe", 35, 60)],
    "qids-sr16": [
        ("none", 0, 5),
        ("mild", 6, 10),
        ("moderate", 11, 15),
        ("severe", 16, 20),
        ("very_severe", 21, 27),
    ],
    "pcl5": [("below_threshold", 0, 32), ("probable_ptsd", 33, 80)],
    "ybocs": [
        ("subclinical", 0, 7),
        ("mild", 8, 15),
        ("moderate", 16, 23),
        ("severe", 24, 31),
        ("extreme", 32, 40),
    ],
    "ymrs": [("none", 0, 11), ("hypomanic", 12, 20), ("manic", 21, 60)],
    "pain-nrs": [("none", 0, 0), ("mild", 1, 3), ("moderate", 4, 6), ("severe", 7, 10)],
    "bpic-ss": [("below_threshold", 0, 18), ("clinically_significant", 19, 38)],
}
CONTRACT_SHAPE: dict[str, tuple[int, list[int]]] = {  # items, max value per item
    "phq9": (9, [3] * 9),
    "gad7": (7, [3] * 7),
    "madrs": (10, [6] * 10),
    "qids-sr16": (16, [3] * 16),
    "pcl5": (20, [4] * 20),
    "ybocs": (10, [4] * 10),
    "ymrs": (11, [4, 4, 4, 4, 8, 8, 4, 8, 8, 4, 4]),
    "cadss": (23, [4] * 23),
    "moaas": (1, [5]),
    "pain-nrs": (1, [10]),
    "bpic-ss": (8, [4] * 7 + [10]),
    "cssrs-screener": (7, [1] * 7),
    "sds": (5, [3] * 5),
    "cognition": (1, [30]),
    "peg": (3, [10] * 3),
    "craving": (1, [10]),
    "side-effects": (12, [3] * 12),
}

BOUNDARY_CASES = [
    (iid, code, total)
    for iid, bands in CONTRACT_BANDS.items()
    for code, low, high in bands
    for total in sorted({low, high})
]


def test_library_has_the_contract_instruments_and_the_cognition_extension() -> None:
    assert INSTRUMENT_IDS == (
        "phq9", "gad7", "madrs", "qids-sr16", "pcl5", "ybocs", "ymrs", "cadss", "moaas", "pain-nrs",
        "bpic-ss", "cssrs-screener", "sds", "cognition", "peg", "craving", "side-effects",
    )  # fmt: skip


@pytest.mark.parametrize("iid", sorted(CONTRACT_SHAPE))
def test_item_count_and_value_ranges_match_contract(iid: str) -> None:
    defn = load_instrument(iid)
    n, maxes = CONTRACT_SHAPE[iid]
    assert len(defn.items) == n
    assert [i.max_value for i in defn.items] == maxes
    assert [i.min_value for i in defn.items] == [0] * n


@pytest.mark.parametrize("iid", sorted(CONTRACT_BANDS))
def test_data_bands_equal_contract_bands(iid: str) -> None:
    defn = load_instrument(iid)
    assert [(b.code, b.low, b.high) for b in defn.bands] == CONTRACT_BANDS[iid]


@pytest.mark.parametrize(("iid", "band", "total"), BOUNDARY_CASES)
def test_every_band_boundary(iid: str, band: str, total: int) -> None:
    defn = load_instrument(iid)
    result = score(defn, answers_for_total(defn, total))
    assert result.complete is True
    assert result.total == total
    assert result.severity == band


@pytest.mark.parametrize("iid", ["cadss", "moaas", "sds", "cognition", "peg", "craving", "side-effects"])
def test_instruments_without_bands_have_null_severity(iid: str) -> None:
    defn = load_instrument(iid)
    result = score(defn, [i.max_value for i in defn.items])
    assert result.severity is None
    assert result.total == defn.total_max


# ----------------------------------------------------------------- worked examples


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        ([0, 0, 0], 0),
        ([10, 10, 10], 10),
        ([7, 6, 8], 7),  # whole means stay integers
        ([1, 2, 2], 1.67),  # 1.666... rounds up
        ([1, 1, 2], 1.33),  # 1.333... rounds down
        ([5, 4, 4], 4.33),
        ([9, 10, 10], 9.67),
    ],
)
def test_peg_total_is_the_mean_to_two_decimals(answers: list[int], total: float) -> None:
    result = score(load_instrument("peg"), answers)
    assert (result.total, result.severity, result.flag_codes, result.complete) == (total, None, (), True)


def test_peg_mean_rounds_half_away_from_zero() -> None:
    # A mean of three integers never ends in an exact half at 2 decimals; the rule is pinned on the helper.
    peg = load_instrument("peg")
    assert peg.total_decimals == 2
    assert peg.mean_total([1, 0, 0, 0, 0, 0, 0, 0]) == 0.13  # 0.125 -> 0.13 (banker's rounding gives 0.12)
    assert peg.mean_total([3, 0, 0, 0, 0, 0, 0, 0]) == 0.38  # 0.375 -> 0.38
    assert (peg.total_min, peg.total_max) == (0, 10)


def test_peg_incomplete_is_not_totalled() -> None:
    result = score(load_instrument("peg"), [5, None, 6])
    assert (result.complete, result.total, result.missing_items) == (False, None, ("2",))


def test_phq9_worked_example_moderate_with_item9() -> None:
    # Kroenke 2001 scoring: plain sum; 1+2+1+2+1+1+0+1+1 = 10 -> moderate; item 9 = 1 -> safety flag.
    r = score(load_instrument("phq9"), [1, 2, 1, 2, 1, 1, 0, 1, 1])
    assert (r.total, r.severity, r.flag_codes) == (10, "moderate", ("suicidal_ideation",))
    assert r.suicide_risk is True


def test_phq9_item9_zero_has_no_flag() -> None:
    r = score(load_instrument("phq9"), [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert (r.total, r.severity, r.flag_codes, r.suicide_risk) == (24, "severe", (), False)


def test_gad7_worked_example() -> None:
    # Spitzer 2006: sum of 7 items; 2+2+2+1+1+1+1 = 10 -> moderate (>= 10 positive screen).
    r = score(load_instrument("gad7"), [2, 2, 2, 1, 1, 1, 1])
    assert (r.total, r.severity, r.flag_codes) == (10, "moderate", ())


def test_madrs_item10_threshold() -> None:
    defn = load_instrument("madrs")
    r3 = score(defn, [3, 3, 2, 2, 1, 2, 2, 1, 2, 3])
    assert (r3.total, r3.severity, r3.flag_codes) == (21, "moderate", ())
    r4 = score(defn, [3, 3, 2, 2, 1, 2, 2, 1, 2, 4])
    assert (r4.total, r4.severity, r4.flag_codes, r4.suicide_risk) == (
        22,
        "moderate",
        ("suicidal_ideation",),
        True,
    )


def test_qids_sr16_worked_example_uses_domain_maxima() -> None:
    # Rush 2003: max(sleep 1-4) + 5 + max(appetite/weight 6-9) + 10..14 + max(15, 16).
    answers = [3, 0, 1, 2, 1, 0, 2, 0, 1, 2, 1, 1, 1, 1, 0, 2]
    r = score(load_instrument("qids-sr16"), answers)
    assert r.total == 3 + 1 + 2 + 2 + 1 + 1 + 1 + 1 + 2 == 14
    assert r.severity == "moderate"
    assert r.flag_codes == ("suicidal_ideation",)
    assert {p.code: p.value for p in r.domains} == {
        "sleep": 3, "sad_mood": 1, "appetite_weight": 2, "concentration": 2, "self_view": 1,
        "suicidal_ideation": 1, "interest": 1, "energy": 1, "psychomotor": 2,
    }  # fmt: skip
    # Item 12 = 1 (life feels empty) keeps the flag but does not block: the alert starts at 2.
    assert r.suicide_risk is False


def test_qids_all_max_is_27_not_48() -> None:
    r = score(load_instrument("qids-sr16"), [3] * 16)
    assert (r.total, r.severity) == (27, "very_severe")


def test_pcl5_worked_example_and_clusters() -> None:
    answers = [2, 2, 1, 3, 2, 3, 2, 0, 2, 1, 3, 2, 2, 2, 1, 0, 3, 3, 2, 3]
    r = score(load_instrument("pcl5"), answers)
    assert (r.total, r.severity) == (39, "probable_ptsd")
    assert {p.code: p.value for p in r.subscales} == {
        "cluster_b_intrusion": 10, "cluster_c_avoidance": 5, "cluster_d_cognition_mood": 12,
        "cluster_e_arousal": 12,
    }  # fmt: skip


def test_ybocs_subscales() -> None:
    r = score(load_instrument("ybocs"), [3, 2, 3, 2, 2, 2, 2, 3, 1, 2])
    assert (r.total, r.severity) == (22, "moderate")
    assert {p.code: p.value for p in r.subscales} == {"obsessions": 12, "compulsions": 10}


def test_ymrs_double_weighted_items_accept_eight() -> None:
    r = score(load_instrument("ymrs"), [2, 2, 1, 1, 8, 6, 1, 4, 2, 0, 0])
    assert (r.total, r.severity) == (27, "manic")
    with pytest.raises(AnswerError) as exc:
        score(load_instrument("ymrs"), [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert exc.value.field == "item 1"


def test_cadss_total_and_short_form() -> None:
    answers = [1, 2, 0, 0, 0, 1, 1] + [0] * 7 + [2] + [0] * 6 + [1, 0]
    r = score(load_instrument("cadss"), answers)
    assert (r.total, r.severity, r.flag_codes) == (8, None, ())
    assert {p.code: p.value for p in r.subscales} == {"cadss6": 8}


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        (5, ()),
        (4, ()),
        (3, ("sedation",)),
        (1, ("sedation",)),
        (0, ("sedation", "loss_of_consciousness")),
    ],
)
def test_moaas_flags(value: int, flags: tuple[str, ...]) -> None:
    r = score(load_instrument("moaas"), [value])
    assert (r.total, r.severity, r.flag_codes) == (value, None, flags)


def test_bpic_ss_item8_is_zero_to_ten() -> None:
    r = score(load_instrument("bpic-ss"), [2, 2, 2, 2, 2, 2, 2, 5])
    assert (r.total, r.severity) == (19, "clinically_significant")
    with pytest.raises(AnswerError) as exc:
        score(load_instrument("bpic-ss"), [5, 0, 0, 0, 0, 0, 0, 0])
    assert (exc.value.field, exc.value.item) == ("item 1", 1)


# ----------------------------------------------------------------- C-SSRS screener


@pytest.mark.parametrize(
    ("answers", "severity", "flags", "suicide_risk"),
    [
        ([0, 0, 0, 0, 0, 0, 0], "none", (), False),
        ([1, 0, 0, 0, 0, 0, 0], "low", ("suicidal_ideation",), False),
        ([0, 1, 0, 0, 0, 0, 0], "low", ("suicidal_ideation",), False),
        ([1, 1, 1, 0, 0, 0, 0], "moderate", ("suicidal_ideation",), True),
        ([0, 0, 0, 0, 0, 1, 0], "moderate", (), True),
        ([1, 1, 0, 1, 0, 0, 0], "high", ("suicidal_ideation",), True),
        ([1, 1, 1, 1, 1, 0, 0], "high", ("suicidal_ideation",), True),
        ([0, 1, 0, 0, 1, 0, 0], "high", ("suicidal_ideation",), True),
        ([0, 0, 0, 0, 0, 1, 1], "high", (), True),
        ([1, 0, 0, 0, 0, 1, 1], "high", ("suicidal_ideation",), True),
    ],
)
def test_cssrs_triage(answers: list[int], severity: str, flags: tuple[str, ...], suicide_risk: bool) -> None:
    r = score(load_instrument("cssrs-screener"), answers)
    assert (r.total, r.severity, r.flag_codes, r.suicide_risk, r.complete) == (
        None,
        severity,
        flags,
        suicide_risk,
        True,
    )


@pytest.mark.parametrize("q", [3, 4, 5])
def test_cssrs_q3_to_q5_yes_with_q2_no_is_rejected(q: int) -> None:
    answers = [1, 0, 0, 0, 0, 0, 0]
    answers[q - 1] = 1
    with pytest.raises(AnswerError) as exc:
        score(load_instrument("cssrs-screener"), answers)
    assert exc.value.field == f"item {q}"
    assert "skip logic" in exc.value.reason


def test_cssrs_not_asked_items_may_be_blank_without_making_form_incomplete() -> None:
    r = score(load_instrument("cssrs-screener"), [1, 0, None, None, None, 0, None])
    assert (r.complete, r.severity, r.not_asked_items, r.missing_items) == (
        True,
        "low",
        ("3", "4", "5", "6b"),
        (),
    )


def test_cssrs_partial_high_answer_still_raises_risk() -> None:
    r = score(load_instrument("cssrs-screener"), [1, 1, None, 1, None, None, None])
    assert (r.complete, r.severity, r.risk_floor, r.suicide_risk) == (False, None, "high", True)
    assert r.missing_items == ("3", "5", "6")


# ----------------------------------------------------------------- incomplete forms and bad input


def test_partial_phq9_is_never_scored_as_complete_but_item9_still_flags() -> None:
    r = score(load_instrument("phq9"), [3, 3, 3, None, 3, 3, 3, 3, 2])
    assert (r.complete, r.total, r.severity, r.missing_items) == (False, None, None, ("4",))
    assert r.flag_codes == ("suicidal_ideation",)
    assert r.suicide_risk is True


def test_partial_qids_domain_with_missing_item_is_unknown() -> None:
    answers: list[int | None] = [1] * 16
    answers[2] = None
    r = score(load_instrument("qids-sr16"), answers)
    assert r.total is None
    assert {p.code: p.value for p in r.domains}["sleep"] is None


@pytest.mark.parametrize(
    ("iid", "answers", "field", "fragment"),
    [
        ("phq9", [0] * 8, "answers", "has 9 items"),
        ("phq9", [0] * 10, "answers", "got 10"),
        ("phq9", [0] * 8 + [4], "item 9", "out of range; allowed 0-3"),
        ("phq9", [-1] + [0] * 8, "item 1", "out of range"),
        ("gad7", [0, 0, "1", 0, 0, 0, 0], "item 3", "not an integer"),
        ("gad7", [0, 0, True, 0, 0, 0, 0], "item 3", "not an integer"),
        ("gad7", [0, 0, 1.0, 0, 0, 0, 0], "item 3", "not an integer"),
        ("pain-nrs", [11], "item 1", "allowed 0-10"),
        ("cssrs-screener", [0, 0, 0, 0, 0, 0, 2], "item 6b", "allowed 0-1"),
    ],
)
def test_bad_input_names_the_item(iid: str, answers: list[object], field: str, fragment: str) -> None:
    with pytest.raises(AnswerError) as exc:
        score(load_instrument(iid), answers)
    assert exc.value.field == field
    assert fragment in str(exc.value)


def test_answers_must_be_a_sequence() -> None:
    with pytest.raises(AnswerError) as exc:
        score(load_instrument("phq9"), "000000000")
    assert exc.value.field == "answers"


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("1,1,1,1,1,1,1,1", "answers", "got 8"),
        ("1,1,1,1,1,1,1,1,x", "item 9", "'x' is not an integer"),
        ("1,1,1,1,1,1,1,1,1_0", "item 9", "not an integer"),
        ("1,1,1,1,,1,1,1,1", "item 5", "missing answer"),
        ("", "answers", "got 0"),
    ],
)
def test_parse_answer_text_rejects(text: str, field: str, fragment: str) -> None:
    with pytest.raises(AnswerError) as exc:
        parse_answer_text(load_instrument("phq9"), text)
    assert exc.value.field == field
    assert fragment in str(exc.value)


def test_parse_answer_text_blank_allowed_only_when_asked() -> None:
    assert parse_answer_text(load_instrument("phq9"), "1, 2,3,0,,0,0,0,1", allow_blank=True) == [
        1, 2, 3, 0, None, 0, 0, 0, 1,
    ]  # fmt: skip


def test_result_is_frozen() -> None:
    r = score(load_instrument("gad7"), [0] * 7)
    with pytest.raises(AttributeError):
        r.total = 5  # type: ignore[misc]


# ----------------------------------------------------------------- surveillance instruments


def test_sds_is_a_plain_sum_of_five_items_without_wording() -> None:
    # Gossop 1995: five items scored 0-3, total = sum (0-15); no severity bands are shipped.
    defn = load_instrument("sds")
    r = score(defn, [2, 1, 0, 3, 1])
    assert (r.total, r.severity, r.flag_codes, r.suicide_risk) == (7, None, (), False)
    assert (defn.total_min, defn.total_max, defn.wording_included, defn.remote_allowed) == (
        0,
        15,
        False,
        False,
    )
    assert all(i.text is None for i in defn.items)


def test_cognition_is_a_rater_entered_total_without_item_content() -> None:
    defn = load_instrument("cognition")
    assert (len(defn.items), defn.total_min, defn.total_max, defn.respondent) == (1, 0, 30, "clinician")
    assert defn.wording_included is False
    assert "licensed" in defn.licence
    assert score(defn, [24]).total == 24
    with pytest.raises(AnswerError) as exc:
        score(defn, [31])
    assert exc.value.field == "item 1"


# ----------------------------------------------------------------- suicide risk (blocking alert)


@pytest.mark.parametrize(
    ("iid", "answers", "flags", "suicide_risk"),
    [
        ("qids-sr16", [0] * 11 + [1] + [0] * 4, ("suicidal_ideation",), False),
        ("qids-sr16", [0] * 11 + [2] + [0] * 4, ("suicidal_ideation",), True),
        ("qids-sr16", [0] * 11 + [3] + [0] * 4, ("suicidal_ideation",), True),
        ("qids-sr16", [3] * 11 + [0] + [3] * 4, (), False),
        ("madrs", [0] * 9 + [3], (), False),
        ("madrs", [0] * 9 + [4], ("suicidal_ideation",), True),
        ("phq9", [0] * 8 + [1], ("suicidal_ideation",), True),
        ("phq9", [3] * 8 + [0], (), False),
        ("cssrs-screener", [1, 0, 0, 0, 0, 0, 0], ("suicidal_ideation",), False),
        ("cssrs-screener", [1, 1, 1, 0, 0, 0, 0], ("suicidal_ideation",), True),
        ("cssrs-screener", [0, 0, 0, 0, 0, 1, 0], (), True),
        ("cssrs-screener", [0, 0, 0, 0, 0, 1, 1], (), True),
        ("gad7", [3] * 7, (), False),
    ],
)
def test_suicide_risk_triggers(
    iid: str, answers: list[int], flags: tuple[str, ...], suicide_risk: bool
) -> None:
    r = score(load_instrument(iid), answers)
    assert (r.flag_codes, r.suicide_risk) == (flags, suicide_risk)
    assert bool(r.suicide_risk_reasons) is suicide_risk


def test_suicide_risk_reasons_say_why_in_words() -> None:
    r = score(load_instrument("qids-sr16"), [0] * 11 + [2] + [0] * 4)
    assert r.suicide_risk_reasons == (
        "QIDS-SR16: QIDS-SR16 item 12 >= 2: thinks of suicide or death several times a week, or has made plans "
        "or an attempt. (Rush 2003, QIDS-SR16 item 12 anchors 2 and 3 [V])",
    )
    r = score(load_instrument("cssrs-screener"), [1, 1, 1, 0, 0, 0, 0])
    assert r.suicide_risk_reasons == ("C-SSRS screener triage: Moderate risk",)


def test_cssrs_q6b_yes_with_q6_no_is_rejected() -> None:
    with pytest.raises(AnswerError) as exc:
        score(load_instrument("cssrs-screener"), [0, 0, 0, 0, 0, 0, 1])
    assert (exc.value.field, exc.value.item) == ("item 6b", 7)
    assert "skip logic" in exc.value.reason


def test_side_effect_checklist_is_marked_not_validated_and_has_no_bands() -> None:
    defn = load_instrument("side-effects")
    assert "not validated" in defn.title
    assert (defn.bands, defn.remote_allowed, defn.total_max) == ((), True, 36)
    r = score(defn, [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])  # any blood in the urine flags
    assert (r.total, r.severity, r.flag_codes) == (1, None, ("urinary_symptoms",))
    r = score(defn, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])  # mild frequency, mild craving: no flag
    assert r.flag_codes == ()
