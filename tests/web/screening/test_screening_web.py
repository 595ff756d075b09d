"""Screening web app: intake re-screens automatically, review/override rules, consent, audit, refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.lib.errors import ConflictError, PermissionDeniedError, ValidationFailed
from ketaclinic.web.screening import actions, selectors
from ketaclinic.web.screening.models import Consent, FindingReview, IntakeItem, ScreeningRun


def counts() -> tuple[int, int, int, int, int]:
    return (
        IntakeItem.objects.count(),
        ScreeningRun.objects.count(),
        FindingReview.objects.count(),
        Consent.objects.count(),
        AuditEvent.objects.count(),
    )


def vitals(user: Any, patient: Any) -> None:
    actions.do_record_blood_pressure(actor=user, patient_id=patient.pk, systolic=120, diastolic=80)
    actions.do_record_intake_weight(actor=user, patient_id=patient.pk, weight_kg="70")


@pytest.mark.django_db
def test_intake_reruns_screening_and_clears(nurse: Any, patient: Any) -> None:
    assert selectors.screening_is_cleared(patient) is False
    actions.do_record_blood_pressure(actor=nurse, patient_id=patient.pk, systolic=150, diastolic=85)
    run = selectors.screening_latest(patient)
    assert run is not None and run.decision == "needs_review"
    assert [f["code"] for f in run.findings] == [
        "elevated_blood_pressure"
    ]  # the fixture patient has a weight
    actions.do_record_intake_weight(actor=nurse, patient_id=patient.pk, weight_kg="72.5")
    run = selectors.screening_latest(patient)
    assert [f["code"] for f in run.findings] == ["elevated_blood_pressure"]
    assert patient.latest_weight().weight_kg == pytest.approx(72.5)
    assert len(run.result["trace"]) == 31 and run.ruleset_version == "2026.1.0"
    assert AuditEvent.objects.filter(action="screening.run").count() == 2


@pytest.mark.django_db
def test_absolute_override_needs_sentence_and_second_prescriber(
    prescriber: Any, make_user: Any, patient: Any
) -> None:
    vitals(prescriber, patient)
    actions.do_record_condition(
        actor=prescriber, patient_id=patient.pk, system="icd10cm", code="I71.4", clinical_status="resolved"
    )
    run = selectors.screening_latest(patient)
    assert run.decision == "ineligible" and [f["code"] for f in run.findings] == [
        "aneurysmal_vascular_disease"
    ]
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_review_finding(
            actor=prescriber,
            patient_id=patient.pk,
            run_id=run.pk,
            finding_code="aneurysmal_vascular_disease",
            reason="ok",
        )
    assert list(exc.value.fields) == ["reason"]
    assert counts() == before
    review = actions.do_review_finding(
        actor=prescriber,
        patient_id=patient.pk,
        run_id=run.pk,
        finding_code="aneurysmal_vascular_disease",
        reason="Repaired in 2019 with a clean follow-up scan last month.",
    )
    assert review.effective is False and selectors.screening_is_cleared(patient) is False
    before = counts()
    with pytest.raises(PermissionDeniedError):
        actions.do_cosign_override(actor=prescriber, patient_id=patient.pk, review_id=review.pk)
    assert counts() == before
    second = make_user("prescriber", username="dr-two")
    actions.do_cosign_override(actor=second, patient_id=patient.pk, review_id=review.pk)
    assert selectors.screening_is_cleared(patient) is True
    assert selectors.screening_banners(patient) == []
    assert AuditEvent.objects.filter(action="screening.override_cosign").count() == 1


@pytest.mark.django_db
def test_relative_clear_by_prescriber_only(prescriber: Any, nurse: Any, patient: Any) -> None:
    vitals(nurse, patient)
    actions.do_record_medication(actor=nurse, patient_id=patient.pk, rxnorm="8123", name="phenelzine")
    run = selectors.screening_latest(patient)
    assert run.decision == "needs_review"
    before = counts()
    with pytest.raises(PermissionDeniedError):
        actions.do_review_finding(
            actor=nurse, patient_id=patient.pk, run_id=run.pk, finding_code="maoi_use", reason="Stopped."
        )
    assert counts() == before
    banners = selectors.screening_banners(patient)
    assert banners[0]["level"] == "warning" and banners[0]["text"] == "Screening not cleared: needs review"
    actions.do_review_finding(
        actor=prescriber,
        patient_id=patient.pk,
        run_id=run.pk,
        finding_code="maoi_use",
        reason="Washout confirmed by pharmacist",
    )
    assert selectors.screening_is_cleared(patient) is True
    # new intake -> new run -> the old clearance no longer applies, and reviewing the old run is refused
    actions.do_record_condition(
        actor=nurse, patient_id=patient.pk, system="icd10cm", code="H40.9", clinical_status="active"
    )
    assert selectors.screening_is_cleared(patient) is False
    before = counts()
    with pytest.raises(ConflictError):
        actions.do_review_finding(
            actor=prescriber, patient_id=patient.pk, run_id=run.pk, finding_code="maoi_use", reason="Again."
        )
    assert counts() == before


@pytest.mark.django_db
def test_bad_condition_code_is_refused_with_nothing_written(nurse: Any, patient: Any) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_condition(
            actor=nurse,
            patient_id=patient.pk,
            system="icd10cm",
            code="I71.99",
            clinical_status="active",
            onset="2030-01-01",
        )
    assert exc.value.fields == {
        "code": ["'I71.99' is not an ICD-10-CM code"],
        "onset": ["cannot be in the future"],
    }
    assert counts() == before


@pytest.mark.django_db
def test_import_bundle_api_and_malformed_refusal(nurse: Any, patient: Any, client_as: Any) -> None:
    client = client_as(nurse)
    bad = {"resourceType": "Bundle", "type": "collection", "entry": []}
    before = counts()
    r = client.post(f"/api/v1/screening/patients/{patient.pk}/import", bad, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {
        "bundle": ["Bundle: Bundle.entry: no Patient resource: the intake bundle needs exactly one"]
    }
    assert counts() == before
    good = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "x", "birthDate": patient.birth_date.isoformat()}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": {"reference": "Patient/x"},
                    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F20.9"}]},
                }
            },
        ],
    }
    r = client.post(f"/api/v1/screening/patients/{patient.pk}/import", good, content_type="application/json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["decision"] == "ineligible" and body["cleared"] is False
    assert [f["code"] for f in body["findings"]] == ["psychotic_disorder", "blood_pressure_missing"]
    assert body["findings"][0]["evidence"] == ["Condition/c1"]
    r = client.get(f"/api/v1/screening/patients/{patient.pk}/result")
    assert r.status_code == 200 and r.json()["result"]["ruleset"] == "2026.1.0"


@pytest.mark.django_db
def test_consent_off_label_notice(prescriber: Any, patient: Any) -> None:
    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_consent(
            actor=prescriber, patient_id=patient.pk, indication="trd", product="ketamine_racemic"
        )
    assert list(exc.value.fields) == ["patient_acknowledged_off_label"]
    assert counts() == before
    c = actions.do_record_consent(
        actor=prescriber,
        patient_id=patient.pk,
        indication="trd",
        product="ketamine_racemic",
        patient_acknowledged_off_label=True,
    )
    assert c.off_label is True and "off-label" in c.notice
    assert selectors.consent_on_file(patient, indication="trd", product="ketamine_racemic") is True
    assert selectors.consent_on_file(patient, indication="trd", product="esketamine_nasal") is False


@pytest.mark.django_db
def test_chart_tab_renders(prescriber: Any, patient: Any, client_as: Any) -> None:
    vitals(prescriber, patient)
    r = client_as(prescriber).get(f"/screening/patients/{patient.pk}/")
    assert r.status_code == 200
    assert b'id="decision"' in r.content and b"eligible" in r.content
