"""Screening safety corrections: pregnancy (all of chapter 15 except ended pregnancies, positive tests),
breastfeeding, intracerebral haemorrhage of any cause, traumatic intracranial haemorrhage, current mania,
substance-induced psychosis, bladder disease, CNS depressants (incl. alcohol use disorder), lamotrigine."""

from __future__ import annotations

from typing import Any

import pytest
import simple_icd_10_cm as icd
from screening_helpers import LOINC, SCT, codes, condition, finding, med, run

from ketaclinic.core.terminology import load_terminology

# ---- pregnancy: chapter 15 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "O99.342",  # other mental disorders complicating pregnancy, second trimester (screened eligible before)
        "O13.2",  # gestational hypertension, second trimester (screened eligible before)
        "O24.410",  # gestational diabetes in pregnancy, diet controlled
        "O26.891",  # other specified pregnancy related conditions, first trimester
        "O00.101",  # ectopic pregnancy: still pregnant
        "O07.4",  # failed attempted termination: the pregnancy continues
        "O31.10X0",  # continuing pregnancy after the loss of one fetus
        "O60.00",  # preterm labour without delivery
        "O88.011",  # air embolism in pregnancy, first trimester
        "O91.011",  # infection of nipple associated with pregnancy, first trimester
        "O9A.111",  # malignant neoplasm complicating pregnancy, first trimester
        "Z33.1",
        "Z34.90",
        "Z3A.20",
        "O09.511",
    ],
)
def test_ongoing_pregnancy_codes_give_a_pregnancy_finding(code: str) -> None:
    r = run(condition("c1", code))
    assert codes(r) == ["pregnancy"], code
    f = finding(r, "pregnancy")
    assert (f["level"], f["evidence"], r.decision) == ("relative", ["Condition/c1"], "needs_review")


@pytest.mark.parametrize(
    "code",
    [
        "O94",  # sequelae of a complication of pregnancy
        "O99.344",  # other mental disorders complicating childbirth
        "O99.345",  # other mental disorders complicating the puerperium
        "O13.5",  # gestational hypertension complicating the puerperium
        "O24.420",  # gestational diabetes in childbirth
        "O03.9",  # complete spontaneous abortion
        "O04.5",  # complication following induced termination
        "O08.0",  # complication following ectopic or molar pregnancy
        "O80",  # delivery
        "O82",
        "O72.1",  # postpartum haemorrhage
        "O86.4",  # pyrexia following delivery
        "O87.1",  # deep phlebothrombosis in the puerperium
        "O90.6",  # postpartum mood disturbance
        "O91.13",  # abscess of breast associated with lactation
        "O60.14X0",  # preterm labour with preterm delivery
        "O75.82",  # onset of labour with delivery by caesarean section
    ],
)
def test_codes_meaning_the_pregnancy_has_ended_do_not(code: str) -> None:
    assert "pregnancy" not in codes(run(condition("c1", code))), code


def test_every_chapter_15_code_is_either_pregnancy_or_a_stated_exclusion() -> None:
    # The review pinned: the excluded chapter-15 categories and how many codes each loses.
    terms = load_terminology()
    leaves = [c for c in icd.get_descendants("15") if icd.is_leaf(c)]
    out: dict[str, int] = {}
    for c in leaves:
        if terms.icd10cm_match("pregnancy", c) is None:
            out[c[:3]] = out.get(c[:3], 0) + 1
    assert out == {
        "O03": 28, "O04": 13, "O08": 13, "O10": 12, "O11": 2, "O12": 6, "O13": 2, "O14": 8, "O15": 1,
        "O16": 2, "O24": 17, "O25": 2, "O26": 4, "O60": 49, "O70": 9, "O71": 1, "O72": 4, "O73": 2,
        "O74": 10, "O75": 1, "O80": 1, "O82": 1, "O85": 1, "O86": 17, "O87": 7, "O88": 10, "O89": 10,
        "O90": 11, "O91": 6, "O92": 4, "O94": 1, "O98": 20, "O99": 36, "O9A": 10,
    }  # fmt: skip
    assert len(leaves) - sum(out.values()) == 2116  # the rest of the chapter says "pregnant"


def _test_obs(
    oid: str, loinc: str, answer_system: str, answer: str, when: str = "2025-06-01"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": answer_system, "code": answer}]},
    }


@pytest.mark.parametrize(("system", "answer"), [(LOINC, "LA6576-8"), (SCT, "10828004")])
def test_positive_urine_pregnancy_test_is_a_pregnancy_finding(system: str, answer: str) -> None:
    r = run(_test_obs("hcg1", "2106-3", system, answer))
    assert codes(r) == ["pregnancy"]
    assert finding(r, "pregnancy")["evidence"] == ["Observation/hcg1"]


def test_negative_pregnancy_test_after_a_positive_one_clears_it() -> None:
    positive = _test_obs("hcg1", "2106-3", LOINC, "LA6576-8", "2025-05-01")
    negative = _test_obs("hcg2", "2106-3", LOINC, "LA6577-6", "2025-06-01")
    assert codes(run(positive, negative)) == []


# ---- breastfeeding ------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "system"), [("Z39.1", None), ("413712001", SCT), ("169750002", SCT)])
def test_breastfeeding_is_a_relative_finding(code: str, system: str | None) -> None:
    c = condition("c1", code) if system is None else condition("c1", code, system=system)
    r = run(c)
    assert codes(r) == ["breastfeeding"]
    assert (finding(r, "breastfeeding")["level"], r.decision) == ("relative", "needs_review")
    assert "8.2" in finding(r, "breastfeeding")["source"]
    assert codes(run(condition("c1", "Z39.1", clinical="resolved"))) == []


# ---- intracranial haemorrhage ---------------------------------------------------------------------


@pytest.mark.parametrize("code", ["S06.340A", "S06.350S", "S06.360D", "S06.34AS", "I61.9"])
def test_intracerebral_haemorrhage_of_any_cause_is_absolute(code: str) -> None:
    r = run(condition("c1", code, clinical="resolved"))
    assert codes(r) == ["intracranial_hemorrhage_history"], code
    assert r.decision == "ineligible"


@pytest.mark.parametrize("code", ["S06.4X0A", "S06.5X1S", "S06.6X0D"])
def test_other_traumatic_intracranial_haemorrhage_is_relative(code: str) -> None:
    r = run(condition("c1", code, clinical="resolved"))
    assert codes(r) == ["traumatic_intracranial_hemorrhage"], code
    assert r.decision == "needs_review"


def test_concussion_and_brain_contusion_are_not_haemorrhage() -> None:
    assert codes(run(condition("c1", "S06.0X0A"))) == []
    assert codes(run(condition("c1", "S06.310A"))) == []  # contusion and laceration of right cerebrum


# ---- psychosis and mania ------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["F12.159", "F12.259", "F19.959", "F10.150", "F15.951", "F16.259"])
def test_substance_induced_psychosis_is_relative(code: str) -> None:
    r = run(condition("c1", code, clinical="resolved"))
    assert "substance_induced_psychosis" in codes(r), code
    assert "psychotic_disorder" not in codes(r)
    assert finding(r, "substance_induced_psychosis")["level"] == "relative"


@pytest.mark.parametrize(
    ("code", "also"),
    [
        ("F31.10", ["mania_risk"]),
        ("F31.13", ["mania_risk"]),
        ("F31.2", ["psychotic_features_history"]),
        ("F31.60", ["mania_risk"]),
        ("F31.64", ["psychotic_features_history"]),
    ],
)
def test_current_manic_or_mixed_episode_is_relative(code: str, also: list[str]) -> None:
    r = run(condition("c1", code))
    assert sorted(codes(r)) == sorted(["current_mania", *also]), code
    assert r.decision == "needs_review"


@pytest.mark.parametrize("code", ["F31.30", "F31.81", "F31.70"])
def test_bipolar_without_a_current_manic_episode_is_not_current_mania(code: str) -> None:
    assert "current_mania" not in codes(run(condition("c1", code)))


def test_a_resolved_manic_episode_is_not_current() -> None:
    assert "current_mania" not in codes(run(condition("c1", "F31.10", clinical="resolved")))


# ---- bladder ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        condition("c1", "N30.10"),
        condition("c1", "N30.11", clinical="resolved"),
        condition("c1", "197834003", system=SCT),
    ],
    ids=["N30.10", "N30.11-resolved", "snomed"],
)
def test_interstitial_cystitis_is_bladder_disease(resource: dict[str, Any]) -> None:
    r = run(resource)
    assert codes(r) == ["bladder_disease"]
    assert finding(r, "bladder_disease")["level"] == "relative"


@pytest.mark.parametrize(
    "text",
    [
        "Ketamine uropathy",
        "history of ketamine-induced bladder damage",
        "Ulcerative cystitis due to ketamine",
        "Ketamine-associated cystitis (2019)",
    ],
)
def test_ketamine_uropathy_named_in_the_condition_text(text: str) -> None:
    c = condition("c1", "N32.89")
    c["code"]["text"] = text
    r = run(c)
    assert codes(r) == ["bladder_disease"]
    assert "text" in finding(r, "bladder_disease")["message"]


def test_ordinary_cystitis_is_not_bladder_disease() -> None:
    c = condition("c1", "N30.00")
    c["code"]["text"] = "Acute cystitis"
    assert codes(run(c)) == []


# ---- interactions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("7804", None),  # oxycodone
        ("4337", None),  # fentanyl
        (None, "Tramadol 50 mg tablet"),
        ("39993", None),  # zolpidem
        (None, "zopiclone 7.5 mg"),
        (None, "Lunesta 2 mg"),
        (None, "zaleplon 10 mg"),
        ("8134", None),  # phenobarbital
    ],
)
def test_cns_depressants_give_a_caution(code: str | None, text: str | None) -> None:
    r = run(med("m1", code=code, text=text))
    assert codes(r) == ["cns_depressant_use"]
    assert (finding(r, "cns_depressant_use")["level"], r.decision) == ("caution", "eligible")


def test_alcohol_use_disorder_gives_the_cns_depressant_caution_but_not_in_remission() -> None:
    r = run(condition("c1", "F10.20"))
    assert codes(r) == ["substance_use_disorder_active", "cns_depressant_use"]
    assert finding(r, "cns_depressant_use")["evidence"] == ["Condition/c1"]
    assert "cns_depressant_use" not in codes(run(condition("c1", "F10.21")))
    assert "cns_depressant_use" not in codes(run(condition("c1", "F10.20", clinical="remission")))


def test_medicine_and_alcohol_together_are_one_finding_with_both_as_evidence() -> None:
    r = run(med("m1", code="7052"), condition("c1", "F10.10"))
    assert codes(r).count("cns_depressant_use") == 1
    assert finding(r, "cns_depressant_use")["evidence"] == ["MedicationStatement/m1", "Condition/c1"]


def test_stopped_opioid_gives_no_caution() -> None:
    r = run(med("m1", code="7804", status="stopped", effectivePeriod={"end": "2025-01-01"}))
    assert codes(r) == []


@pytest.mark.parametrize(("code", "text"), [("28439", None), (None, "Lamictal 100 mg")])
def test_lamotrigine_gives_a_caution(code: str | None, text: str | None) -> None:
    r = run(med("m1", code=code, text=text))
    assert codes(r) == ["lamotrigine_use"]
    f = finding(r, "lamotrigine_use")
    assert f["level"] == "caution" and "Anand" in f["source"]
