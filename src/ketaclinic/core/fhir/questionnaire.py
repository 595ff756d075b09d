"""FHIR R4 Questionnaire per instrument, QuestionnaireResponse and total-score Observation builders (pure dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ketaclinic.core.fhir.validate import require_valid
from ketaclinic.core.instruments.definitions import Instrument
from ketaclinic.core.instruments.scoring import ScoreResult

LOINC = "http://loinc.org"
#: Local code system for instruments and items without a confirmed LOINC code.
LOCAL_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/instrument"
QUESTIONNAIRE_BASE = "https://ketaclinic.org/fhir/Questionnaire"
ANSWER_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/instrument-answer"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def questionnaire_url(defn: Instrument) -> str:
    return f"{QUESTIONNAIRE_BASE}/{defn.id}"


def canonical(defn: Instrument) -> str:
    return f"{questionnaire_url(defn)}|{defn.version}"


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.isoformat()


def _link_id(defn: Instrument, n: int) -> str:
    return f"{defn.id}-{defn.item(n).code}"


def build_questionnaire(defn: Instrument) -> dict[str, Any]:
    """A Questionnaire for `defn`: one item per question, with answer options, LOINC codes and skip logic."""
    items: list[dict[str, Any]] = []
    for it in defn.items:
        code = (
            {"system": LOINC, "code": it.loinc, "display": it.label}
            if it.loinc
            else {"system": LOCAL_SYSTEM, "code": f"{defn.id}-{it.code}", "display": it.label}
        )
        q: dict[str, Any] = {
            "linkId": _link_id(defn, it.n),
            "code": [code],
            "prefix": it.code,
            "text": it.text if (defn.wording_included and it.text) else it.label,
            "type": "choice",
            "required": it.asked_if is None,
            "answerOption": [
                {
                    "valueCoding": {
                        "system": LOINC if o.loinc_answer else ANSWER_SYSTEM,
                        "code": o.loinc_answer or f"{defn.id}-{it.code}-{o.value}",
                        "display": o.anchor,
                    },
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                            "valueDecimal": o.value,
                        }
                    ],
                }
                for o in it.options
            ],
        }
        if it.asked_if is not None and it.asked_if.item is not None and it.asked_if.op in ("eq", "ne"):
            dep = defn.item(it.asked_if.item)
            value = it.asked_if.value
            opt = next(o for o in dep.options if o.value == value)
            q["enableWhen"] = [
                {
                    "question": _link_id(defn, dep.n),
                    "operator": "=" if it.asked_if.op == "eq" else "!=",
                    "answerCoding": {
                        "system": LOINC if opt.loinc_answer else ANSWER_SYSTEM,
                        "code": opt.loinc_answer or f"{defn.id}-{dep.code}-{opt.value}",
                    },
                }
            ]
        items.append(q)
    if defn.has_total:
        items.append(
            {
                "linkId": f"{defn.id}-total",
                "code": [_total_coding(defn)],
                "text": "Total score",
                "type": "decimal" if defn.scoring_method == "mean" else "integer",
                "readOnly": True,
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": defn.id,
        "url": questionnaire_url(defn),
        "version": defn.version,
        "name": "".join(ch for ch in defn.short_title.title() if ch.isalnum()),
        "title": defn.title,
        "status": "active",
        "subjectType": ["Patient"],
        "copyright": defn.licence,
        "description": f"Source: {defn.source}",
        "item": items,
    }
    if defn.loinc_panel:
        resource["code"] = [{"system": LOINC, "code": defn.loinc_panel.code, "display": defn.title}]
    return require_valid(resource)


def _total_coding(defn: Instrument) -> dict[str, str]:
    if defn.loinc_total:
        return {"system": LOINC, "code": defn.loinc_total.code, "display": f"{defn.short_title} total score"}
    return {"system": LOCAL_SYSTEM, "code": f"{defn.id}-total", "display": f"{defn.short_title} total score"}


def build_questionnaire_response(
    defn: Instrument,
    result: ScoreResult,
    *,
    patient_ref: str,
    authored: datetime,
    resource_id: str | None = None,
    author_ref: str | None = None,
    source_ref: str | None = None,
) -> dict[str, Any]:
    """A QuestionnaireResponse (status completed or in-progress) carrying each answered item."""
    items: list[dict[str, Any]] = []
    for it, v in zip(defn.items, result.answers, strict=True):
        if v is None:
            continue
        opt = next(o for o in it.options if o.value == v)
        items.append(
            {
                "linkId": _link_id(defn, it.n),
                "text": it.text if (defn.wording_included and it.text) else it.label,
                "answer": [
                    {
                        "valueCoding": {
                            "system": LOINC if opt.loinc_answer else ANSWER_SYSTEM,
                            "code": opt.loinc_answer or f"{defn.id}-{it.code}-{v}",
                            "display": opt.anchor,
                        }
                    }
                ],
            }
        )
    if result.total is not None:
        value_key = "valueDecimal" if defn.scoring_method == "mean" else "valueInteger"
        items.append({"linkId": f"{defn.id}-total", "answer": [{value_key: result.total}]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": canonical(defn),
        "status": "completed" if result.complete else "in-progress",
        "subject": {"reference": patient_ref},
        "authored": _iso(authored),
    }
    if resource_id:
        resource["id"] = resource_id
    if author_ref:
        resource["author"] = {"reference": author_ref}
    if source_ref:
        resource["source"] = {"reference": source_ref}
    if items:
        resource["item"] = items
    return require_valid(resource)


def build_score_observation(
    defn: Instrument,
    result: ScoreResult,
    *,
    patient_ref: str,
    effective: datetime,
    resource_id: str | None = None,
    derived_from_ref: str | None = None,
) -> dict[str, Any] | None:
    """The total-score Observation (category survey); for C-SSRS the triage risk level. None if incomplete."""
    if not result.complete:
        return None
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "subject": {"reference": patient_ref},
        "effectiveDateTime": _iso(effective),
    }
    if result.total is not None:
        resource["code"] = {"coding": [_total_coding(defn)], "text": f"{defn.short_title} total score"}
        resource["valueQuantity"] = {
            "value": result.total,
            "unit": "{score}",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        }
    else:
        coding = (
            {"system": LOINC, "code": defn.loinc_risk_level.code, "display": "Suicide risk level"}
            if defn.loinc_risk_level
            else {"system": LOCAL_SYSTEM, "code": f"{defn.id}-risk", "display": "Risk level"}
        )
        resource["code"] = {"coding": [coding], "text": f"{defn.short_title} risk level"}
        resource["valueCodeableConcept"] = {
            "coding": [{"system": LOCAL_SYSTEM, "code": f"{defn.id}-risk-{result.severity}"}],
            "text": result.severity_label or str(result.severity),
        }
    if result.severity is not None and result.total is not None:
        resource["interpretation"] = [
            {
                "coding": [{"system": LOCAL_SYSTEM, "code": f"{defn.id}-band-{result.severity}"}],
                "text": result.severity_label,
            }
        ]
    if result.flags:
        resource["note"] = [{"text": f"{f.code}: {f.message}"} for f in result.flags]
    if resource_id:
        resource["id"] = resource_id
    if derived_from_ref:
        resource["derivedFrom"] = [{"reference": derived_from_ref}]
    return require_valid(resource)
