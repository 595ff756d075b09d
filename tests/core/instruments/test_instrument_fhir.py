"""FHIR Questionnaire, QuestionnaireResponse and score Observation for every instrument (validated R4B)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ketaclinic.core.fhir.questionnaire import (
    build_questionnaire,
    build_questionnaire_response,
    build_score_observation,
)
from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.core.instruments import INSTRUMENT_IDS, load_instrument, score

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("iid", INSTRUMENT_IDS)
def test_questionnaire_valid_for_every_instrument(iid: str) -> None:
    defn = load_instrument(iid)
    q = build_questionnaire(defn)
    assert validate_resource(q) == []
    assert q["url"] == f"https://ketaclinic.org/fhir/Questionnaire/{iid}"
    assert q["version"] == "1.0.0"
    questions = [i for i in q["item"] if i["type"] == "choice"]
    assert len(questions) == len(defn.items)


def test_phq9_questionnaire_codes_and_wording() -> None:
    q = build_questionnaire(load_instrument("phq9"))
    assert q["code"][0]["code"] == "44249-1"
    assert q["item"][8]["code"][0] == {
        "system": "http://loinc.org",
        "code": "44260-8",
        "display": "Thoughts of death or self-harm",
    }
    assert (
        q["item"][8]["text"]
        == "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert q["item"][-1]["code"][0]["code"] == "44261-6"


def test_madrs_questionnaire_has_no_wording_and_local_codes() -> None:
    q = build_questionnaire(load_instrument("madrs"))
    assert q["item"][9]["text"] == "Suicidal thoughts"
    assert q["item"][9]["code"][0]["system"] == "https://ketaclinic.org/fhir/CodeSystem/instrument"


def test_cssrs_questionnaire_skip_logic() -> None:
    q = build_questionnaire(load_instrument("cssrs-screener"))
    q3 = q["item"][2]
    assert q3["enableWhen"] == [
        {
            "question": "cssrs-screener-2",
            "operator": "=",
            "answerCoding": {"system": "http://loinc.org", "code": "LA33-6"},
        }
    ]
    assert q["item"][6]["linkId"] == "cssrs-screener-6b"


def test_complete_phq9_response_and_observation() -> None:
    defn = load_instrument("phq9")
    r = score(defn, [1, 2, 1, 2, 1, 1, 0, 1, 1])
    qr = build_questionnaire_response(defn, r, patient_ref="Patient/7", authored=WHEN, resource_id="a1")
    assert validate_resource(qr) == []
    assert qr["status"] == "completed"
    assert qr["questionnaire"] == "https://ketaclinic.org/fhir/Questionnaire/phq9|1.0.0"
    assert qr["item"][1]["answer"][0]["valueCoding"]["code"] == "LA6570-1"
    assert qr["item"][-1] == {"linkId": "phq9-total", "answer": [{"valueInteger": 10}]}
    obs = build_score_observation(
        defn, r, patient_ref="Patient/7", effective=WHEN, derived_from_ref="QuestionnaireResponse/a1"
    )
    assert obs is not None
    assert validate_resource(obs) == []
    assert obs["code"]["coding"][0]["code"] == "44261-6"
    assert obs["valueQuantity"]["value"] == 10
    assert obs["category"][0]["coding"][0]["code"] == "survey"
    assert obs["interpretation"][0]["text"] == "Moderate"
    assert obs["derivedFrom"] == [{"reference": "QuestionnaireResponse/a1"}]


def test_incomplete_response_in_progress_and_no_observation() -> None:
    defn = load_instrument("gad7")
    r = score(defn, [1, None, 1, 1, 1, 1, 1])
    qr = build_questionnaire_response(defn, r, patient_ref="Patient/7", authored=WHEN)
    assert qr["status"] == "in-progress"
    assert len(qr["item"]) == 6
    assert build_score_observation(defn, r, patient_ref="Patient/7", effective=WHEN) is None


def test_cssrs_observation_carries_risk_level() -> None:
    defn = load_instrument("cssrs-screener")
    r = score(defn, [1, 1, 0, 1, 0, 0, 0])
    obs = build_score_observation(defn, r, patient_ref="Patient/7", effective=WHEN)
    assert obs is not None
    assert obs["code"]["coding"][0]["code"] == "93374-7"
    assert obs["valueCodeableConcept"]["text"] == "High risk"


def test_naive_datetime_rejected() -> None:
    defn = load_instrument("gad7")
    r = score(defn, [0] * 7)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_questionnaire_response(defn, r, patient_ref="Patient/1", authored=datetime(2026, 1, 1))
