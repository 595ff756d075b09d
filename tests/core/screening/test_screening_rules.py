"""Per-rule tests: triggering and non-triggering codes, status handling and dates (docs/cli.md)."""

from __future__ import annotations

from datetime import date

import pytest
from screening_helpers import (
    SCT,
    allergy,
    bp,
    codes,
    condition,
    finding,
    med,
    patient,
    run,
    single,
    weight,
)

# (finding code, level, triggering ICD-10-CM codes, near-miss codes that must not trigger)
CONDITION_RULES = [
    (
        "aneurysmal_vascular_disease",
        "absolute",
        ["I71.4", "I7140", "I72.0", "I67.1", "Q28.2", "Q27.30"],
        ["I70.0", "I67.2", "Q28.3"],
    ),
    (
        "intracranial_hemorrhage_history",
        "absolute",
        ["I61.9", "I60.7", "I62.00", "I69.10"],
        ["S06.5X0A", "I63.9", "I69.30"],
    ),
    ("psychotic_disorder", "absolute", ["F20.9", "F25.0", "F29", "F22"], ["F30.2", "F32.3", "F19.959"]),
    (
        "psychotic_features_history",
        "relative",
        ["F32.3", "F33.3", "F31.5", "F30.2"],  # F31.2, F31.64 also give current_mania (tested apart)
        ["F32.2", "F33.2"],
    ),
    ("severe_hepatic_impairment", "relative", ["K74.60", "K70.30", "K72.10", "K71.7"], ["K76.0", "K70.0"]),
    ("raised_intracranial_pressure", "relative", ["G93.2", "G93.6", "S06.1X0A"], ["G93.1", "G91.9"]),
    ("raised_intraocular_pressure", "relative", ["H40.1111", "H40.9", "H42", "Q15.0"], ["H35.30", "H52.4"]),
    (
        "unstable_cardiovascular_disease",
        "relative",
        ["I20.0", "I21.4", "I22.0", "I50.9", "I11.0", "I13.2"],
        ["I20.9", "I25.10", "I10", "I11.9"],
    ),
    ("hyperthyroidism", "relative", ["E05.90", "E05.00"], ["E03.9", "E06.3"]),
    ("mania_risk", "caution", ["F31.81", "F31.9", "F30.10", "F31.30"], ["F34.1", "F33.1"]),
]
DEFAULT_DECISION = {"absolute": "ineligible", "relative": "needs_review", "caution": "eligible"}


@pytest.mark.parametrize(("code", "level", "hits", "misses"), CONDITION_RULES)
def test_condition_rule_triggers_on_every_code_of_its_subtree(
    code: str, level: str, hits: list[str], misses: list[str]
) -> None:
    for i, icd in enumerate(hits):
        r = run(condition(f"c{i}", icd))
        assert codes(r) == [code], icd
        f = finding(r, code)
        assert f["level"] == level and f["evidence"] == [f"Condition/c{i}"]
        assert r.decision == DEFAULT_DECISION[level]
        assert f["source"]


@pytest.mark.parametrize(("code", "level", "hits", "misses"), CONDITION_RULES)
def test_condition_rule_ignores_neighbouring_codes(
    code: str, level: str, hits: list[str], misses: list[str]
) -> None:
    for i, icd in enumerate(misses):
        r = run(condition(f"c{i}", icd))
        assert code not in codes(r), icd


ANY_STATUS = [
    "aneurysmal_vascular_disease",
    "intracranial_hemorrhage_history",
    "psychotic_disorder",
    "psychotic_features_history",
    "mania_risk",
]


@pytest.mark.parametrize(
    "clinical", ["active", "recurrence", "relapse", "inactive", "remission", "resolved", None]
)
@pytest.mark.parametrize(
    ("code", "icd"),
    [
        ("aneurysmal_vascular_disease", "I71.2"),
        ("intracranial_hemorrhage_history", "I61.0"),
        ("psychotic_disorder", "F20.0"),
        ("psychotic_features_history", "F32.3"),
        ("mania_risk", "F31.9"),
    ],
)
def test_any_status_rules_count_every_clinical_status(code: str, icd: str, clinical: str | None) -> None:
    assert codes(run(condition("c1", icd, clinical=clinical))) == [code]


@pytest.mark.parametrize("verification", ["entered-in-error", "refuted"])
@pytest.mark.parametrize("icd", ["I71.2", "F20.0", "K74.60", "F10.20", "Z33.1"])
def test_entered_in_error_and_refuted_never_count(icd: str, verification: str) -> None:
    r = run(condition("c1", icd, verification=verification))
    assert r.to_contract() == {"decision": "eligible", "findings": [], "ruleset": "2026.1.0"}


@pytest.mark.parametrize("verification", ["unconfirmed", "provisional", "differential", "confirmed", None])
def test_unconfirmed_and_provisional_still_count(verification: str | None) -> None:
    assert codes(run(condition("c1", "I71.2", verification=verification))) == ["aneurysmal_vascular_disease"]


@pytest.mark.parametrize(
    ("clinical", "fires"),
    [
        ("active", True),
        ("recurrence", True),
        ("relapse", True),
        (None, True),
        ("inactive", False),
        ("remission", False),
        ("resolved", False),
    ],
)
@pytest.mark.parametrize(
    ("code", "icd"),
    [
        ("severe_hepatic_impairment", "K74.60"),
        ("raised_intracranial_pressure", "G93.2"),
        ("raised_intraocular_pressure", "H40.9"),
        ("unstable_cardiovascular_disease", "I50.9"),
        ("hyperthyroidism", "E05.90"),
    ],
)
def test_active_rules_respect_clinical_status(code: str, icd: str, clinical: str | None, fires: bool) -> None:
    assert codes(run(condition("c1", icd, clinical=clinical))) == ([code] if fires else [])


def test_active_rule_with_abatement_before_screening_date_does_not_fire() -> None:
    c = condition("c1", "I50.9", clinical="active", abatementDateTime="2025-05-01")
    assert codes(run(c)) == []


def test_resolved_after_the_screening_date_was_active_then() -> None:
    c = condition("c1", "I50.9", clinical="resolved", abatementDateTime="2025-07-01")
    assert codes(run(c)) == ["unstable_cardiovascular_disease"]
    assert codes(run(c, on=date(2025, 7, 2))) == []


def test_onset_after_the_screening_date_does_not_count() -> None:
    c = condition("c1", "I71.2", onsetDateTime="2025-06-16")
    assert codes(run(c)) == []
    assert codes(run(c, on=date(2025, 6, 16))) == ["aneurysmal_vascular_disease"]


def test_partial_onset_year_counts_when_it_may_precede_the_screening_date() -> None:
    assert codes(run(condition("c1", "I71.2", onsetDateTime="2025"))) == ["aneurysmal_vascular_disease"]
    assert codes(run(condition("c1", "I71.2", onsetDateTime="2026"))) == []


def test_snomed_concepts_trigger_and_unlisted_concepts_do_not() -> None:
    assert codes(run(condition("c1", "58214004", system=SCT))) == ["psychotic_disorder"]
    assert codes(run(condition("c1", "84114007", system=SCT))) == ["unstable_cardiovascular_disease"]
    assert codes(run(condition("c1", "38341003", system=SCT))) == []  # hypertension: not in any set


def test_icd_code_without_dot_and_lower_case_is_normalised() -> None:
    f = finding(run(condition("c1", "i714")), "aneurysmal_vascular_disease")
    assert f["message"] == (
        "Aneurysmal vascular disease or arteriovenous malformation: "
        "Condition/c1 ICD-10-CM I71.4 (subtree I71), active"
    )


# ---- substance use disorder


@pytest.mark.parametrize(
    ("icd", "clinical", "expected"),
    [
        ("F10.20", "active", ["substance_use_disorder_active", "cns_depressant_use"]),  # alcohol use disorder
        ("F11.10", "relapse", ["substance_use_disorder_active"]),
        ("F12.90", None, ["substance_use_disorder_active"]),
        ("F10.21", "active", ["substance_use_disorder_in_remission"]),  # the code says in remission
        ("F14.11", None, ["substance_use_disorder_in_remission"]),
        ("F10.20", "remission", ["substance_use_disorder_in_remission"]),
        ("F10.20", "resolved", ["substance_use_disorder_in_remission"]),
        ("F10.20", "inactive", ["substance_use_disorder_in_remission"]),
        ("F17.210", "active", []),  # nicotine dependence is excluded
    ],
)
def test_substance_use_disorder_active_vs_remission(
    icd: str, clinical: str | None, expected: list[str]
) -> None:
    r = run(condition("c1", icd, clinical=clinical))
    assert codes(r) == expected
    assert r.decision == ("needs_review" if "substance_use_disorder_active" in expected else "eligible")


# ---- pregnancy


@pytest.mark.parametrize("icd", ["Z33.1", "Z34.90", "Z3A.12", "O09.512", "O36.5930"])
def test_pregnancy_condition_triggers_when_active(icd: str) -> None:
    assert codes(run(condition("c1", icd))) == ["pregnancy"]
    assert codes(run(condition("c1", icd, clinical="resolved"))) == []


@pytest.mark.parametrize("icd", ["Z33.2", "Z39.2", "O80"])
def test_pregnancy_ignores_non_pregnancy_codes(icd: str) -> None:
    assert codes(run(condition("c1", icd))) == []


def _preg_obs(oid: str, answer: str, when: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": SCT, "code": answer}]},
    }


def test_pregnancy_status_observation_latest_wins() -> None:
    pregnant, not_pregnant = (
        _preg_obs("ps1", "77386006", "2025-05-01"),
        _preg_obs("ps2", "60001007", "2025-06-01"),
    )
    r = run(pregnant)
    assert codes(r) == ["pregnancy"] and finding(r, "pregnancy")["evidence"] == ["Observation/ps1"]
    assert codes(run(pregnant, not_pregnant)) == []


# ---- allergies


@pytest.mark.parametrize(
    ("system", "code", "text"),
    [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "6130", None),
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "2120060", None),
        (SCT, "373464007", None),
        ("http://example.org/local-allergens", "K1", "Ketamine"),
        ("http://example.org/local-allergens", None, "esketamine (Spravato)"),
    ],
)
def test_hypersensitivity_by_code_or_name(system: str, code: str | None, text: str | None) -> None:
    r = run(allergy("a1", system=system, code=code, text=text))
    assert r.decision == "ineligible"
    assert codes(r) == ["hypersensitivity"] and finding(r, "hypersensitivity")["evidence"] == [
        "AllergyIntolerance/a1"
    ]


@pytest.mark.parametrize(
    ("clinical", "verification", "fires"),
    [
        ("active", "confirmed", True),
        (None, "unconfirmed", True),
        ("inactive", "confirmed", False),
        ("resolved", "confirmed", False),
        ("active", "refuted", False),
        ("active", "entered-in-error", False),
    ],
)
def test_hypersensitivity_status(clinical: str | None, verification: str | None, fires: bool) -> None:
    assert codes(run(allergy("a1", clinical=clinical, verification=verification))) == (
        ["hypersensitivity"] if fires else []
    )


def test_allergy_to_other_substances_does_not_trigger() -> None:
    assert codes(run(allergy("a1", system=SCT, code="227493005", text="Cashew nuts"))) == []
    assert codes(run(allergy("a1", code="7980", text="penicillin G"))) == []


# ---- medications


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("8123", None, "maoi_use"),
        ("10734", None, "maoi_use"),
        (None, "Phenelzine 15 MG Oral Tablet", "maoi_use"),
        ("596", None, "benzodiazepine_use"),
        (None, "lorazepam 1 mg", "benzodiazepine_use"),
        (None, "Klonopin", "benzodiazepine_use"),
        ("6901", None, "psychostimulant_use"),
        (None, "Adderall XR 20 mg", "psychostimulant_use"),
        ("197361", "amLODIPine 5 MG Oral Tablet", None),
        (None, "sertraline 50 mg", None),
    ],
)
def test_medication_classes_by_ingredient_code_or_name(
    code: str | None, text: str | None, expected: str | None
) -> None:
    r = run(med("m1", code=code, text=text))
    assert codes(r) == ([expected] if expected else [])
    if expected:
        assert finding(r, expected)["evidence"] == ["MedicationStatement/m1"]
        assert r.decision == ("needs_review" if expected == "maoi_use" else "eligible")


@pytest.mark.parametrize(
    ("status", "period", "fires"),
    [
        ("active", None, True),
        ("intended", None, True),
        ("on-hold", None, True),
        ("unknown", None, True),
        ("not-taken", None, False),
        ("entered-in-error", None, False),
        ("stopped", {"start": "2024-01-01", "end": "2025-06-05"}, True),  # within the 14-day MAOI washout
        ("completed", {"start": "2024-01-01", "end": "2025-06-01"}, True),  # exactly 14 days
        ("stopped", {"start": "2024-01-01", "end": "2025-05-31"}, False),
        ("stopped", None, False),
        ("active", {"start": "2025-06-20"}, False),  # starts after the screening date
    ],
)
def test_maoi_status_and_washout(status: str, period: dict | None, fires: bool) -> None:
    extra = {"effectivePeriod": period} if period else {}
    assert codes(run(med("m1", code="8123", status=status, **extra))) == (["maoi_use"] if fires else [])


def test_benzodiazepine_stopped_yesterday_is_not_current() -> None:
    assert codes(run(med("m1", code="596", status="stopped", effectivePeriod={"end": "2025-06-14"}))) == []


def test_medication_reference_to_contained_and_bundled_medication() -> None:
    contained = med("m1", code=None, text=None)
    del contained["medicationCodeableConcept"]
    contained["contained"] = [
        {
            "resourceType": "Medication",
            "id": "med0",
            "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8123"}]},
        }
    ]
    contained["medicationReference"] = {"reference": "#med0"}
    assert codes(run(contained)) == ["maoi_use"]
    ref = med("m2", code=None)
    del ref["medicationCodeableConcept"]
    ref["medicationReference"] = {"reference": "Medication/x1"}
    medication = {"resourceType": "Medication", "id": "x1", "code": {"text": "tranylcypromine 10 mg"}}
    assert codes(run(ref, medication)) == ["maoi_use"]


# ---- blood pressure


@pytest.mark.parametrize(
    ("s", "d", "expected"),
    [
        (179, 109, ["elevated_blood_pressure"]),
        (180, 80, ["severe_hypertension"]),
        (120, 110, ["severe_hypertension"]),
        (140, 70, ["elevated_blood_pressure"]),
        (120, 90, ["elevated_blood_pressure"]),
        (139, 89, []),
    ],
)
def test_blood_pressure_thresholds(s: float, d: float, expected: list[str]) -> None:
    r = run(bp("bp1", s, d))
    assert codes(r) == expected
    if expected:
        assert finding(r, expected[0])["evidence"] == ["Observation/bp1"]


def test_latest_reading_within_window_is_used() -> None:
    older_high, newer_normal = (
        bp("bp1", 190, 100, "2025-06-01"),
        bp("bp2", 120, 80, "2025-06-12T09:00:00+02:00"),
    )
    assert codes(run(older_high, newer_normal)) == []
    assert codes(run(bp("bp1", 120, 80, "2025-06-01"), bp("bp2", 150, 80, "2025-06-12"))) == [
        "elevated_blood_pressure"
    ]


def test_blood_pressure_window_is_30_days_inclusive() -> None:
    assert codes(run(bp("bp1", 150, 80, "2025-05-16"))) == ["elevated_blood_pressure"]
    r = run(bp("bp1", 150, 80, "2025-05-15"))
    assert codes(r) == ["blood_pressure_missing"]
    assert finding(r, "blood_pressure_missing")["evidence"] == ["Observation/bp1"]
    assert codes(run(bp("bp1", 150, 80, "2025-06-16"))) == [
        "blood_pressure_missing"
    ]  # after the screening date


def test_standalone_systolic_and_diastolic_observations() -> None:
    r = run(
        single("s1", "8480-6", 185, "2025-06-10T10:00:00Z"),
        single("d1", "8462-4", 95, "2025-06-10T10:00:00Z"),
    )
    f = finding(r, "severe_hypertension")
    assert f["evidence"] == ["Observation/s1", "Observation/d1"]
    assert f["message"] == (
        "Severe hypertension: 185/95 mm[Hg] on 2025-06-10T10:00:00Z, "
        "at or above 180 systolic or 110 diastolic"
    )
    assert codes(run(single("d1", "8462-4", 92))) == ["elevated_blood_pressure"]


def test_no_blood_pressure_is_a_relative_finding() -> None:
    r = run(weight("w1", 70), vitals=False)
    assert r.decision == "needs_review"
    assert finding(r, "blood_pressure_missing") == {
        "code": "blood_pressure_missing",
        "level": "relative",
        "message": "No usable blood pressure within 30 days before 2025-06-15",
        "evidence": [],
        "source": finding(r, "blood_pressure_missing")["source"],
    }


@pytest.mark.parametrize(
    "quantity",
    [
        {"code": "kPa", "unit": "kPa"},
        {"code": None, "unit": None, "system": None},
        {"code": None, "unit": "cm", "system": None},
    ],
)
def test_blood_pressure_without_mmhg_units_is_not_used_and_is_named(quantity: dict) -> None:
    obs = bp("bp1", 200, 120, **quantity)
    for comp in obs["component"]:
        comp["valueQuantity"] = {k: v for k, v in comp["valueQuantity"].items() if v is not None}
    r = run(obs)
    assert codes(r) == ["blood_pressure_missing"]
    f = finding(r, "blood_pressure_missing")
    assert f["evidence"] == ["Observation/bp1"]
    assert "Observation/bp1: Observation.component[0].valueQuantity" in f["message"]


def test_weight_missing_only_for_iv_and_im() -> None:
    only_bp = (bp("bp1", 120, 80),)
    for route in ("iv", "im"):
        assert codes(run(*only_bp, route=route, vitals=False)) == ["weight_missing"]
    for route in ("intranasal", "oral"):
        assert codes(run(*only_bp, route=route, vitals=False)) == []
    assert codes(run(*only_bp, weight("w1", 70, "2025-05-15"), vitals=False)) == ["weight_missing"]
    assert codes(run(*only_bp, weight("w1", 154, "2025-05-16", code="[lb_av]"), vitals=False)) == []


def test_weight_without_units_is_named_in_weight_missing() -> None:
    w = weight("w1", 70)
    w["valueQuantity"] = {"value": 70}
    r = run(bp("bp1", 120, 80), w, vitals=False)
    f = finding(r, "weight_missing")
    assert f["evidence"] == ["Observation/w1"]
    assert "Observation/w1: Observation.valueQuantity: no usable unit" in f["message"]


# ---- age


@pytest.mark.parametrize(
    ("birth", "fires"),
    [
        ("2007-06-16", True),
        ("2007-06-15", False),
        ("2007", True),
        ("2006", False),
        ("2007-05", False),
        ("2007-06", True),
    ],
)
def test_age_under_18_on_the_screening_date(birth: str, fires: bool) -> None:
    assert codes(run(patient(birth))) == (["age_under_18"] if fires else [])


def test_missing_birth_date_is_a_relative_finding() -> None:
    r = run(patient(None))
    assert codes(r) == ["birth_date_missing"] and r.decision == "needs_review"
    assert finding(r, "birth_date_missing")["evidence"] == ["Patient/p1"]
