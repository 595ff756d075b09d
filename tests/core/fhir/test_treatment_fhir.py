"""FHIR R4 builders of a dosing session: exact codes, every resource valid (fhir.resources R4B), bad facts named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ketaclinic.core.fhir.treatment import (
    AdministrationFacts,
    OrderFacts,
    SessionFacts,
    SideEffectFacts,
    TreatmentFhirError,
    VitalsFacts,
    adverse_event_resource,
    encounter_resource,
    medication_administration_resource,
    medication_request_resource,
    session_bundle,
    vital_sign_observations,
)
from ketaclinic.core.fhir.validate import validate_resource

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

SESSION = SessionFacts(
    id="7",
    patient_id="3",
    status="discharged",
    scheduled_for=T0,
    checked_in_at=T0 + dt.timedelta(minutes=5),
    ended_at=T0 + dt.timedelta(hours=2, minutes=30),
    site_name="Riverside Main",
    clinic_name="Riverside Ketamine Clinic",
    protocol_name="IV racemic ketamine for depression",
)
ORDER = OrderFacts(
    id="11",
    patient_id="3",
    drug="ketamine",
    route="iv",
    dose_mg=Decimal("35.00"),
    signed_at=T0 - dt.timedelta(days=1),
    signed_by="Dr Asha Patel",
    duration_min=40,
    dose_mg_per_kg=Decimal("0.500"),
    weight_kg=Decimal("70.0"),
    weight_measured_at=T0 - dt.timedelta(days=2),
    encounter_id="7",
    completed=True,
)
ADMIN = AdministrationFacts(
    id="21",
    patient_id="3",
    encounter_id="7",
    order_id="11",
    drug="ketamine",
    route="iv",
    dose_mg=Decimal("35.00"),
    administered_at=T0 + dt.timedelta(minutes=30),
    performer="Nurse Joon Kim",
    lot_number="KET-2291",
    duration_min=40,
)
VITALS = VitalsFacts(
    id="31",
    patient_id="3",
    encounter_id="7",
    taken_at=T0 + dt.timedelta(minutes=40),
    systolic=142,
    diastolic=88,
    heart_rate=84,
    spo2=97,
    respiratory_rate=14,
    device_id="wearable-9",
)
SIDE_EFFECT = SideEffectFacts(
    id="41",
    patient_id="3",
    encounter_id="7",
    code="dissociation",
    display="Dissociation",
    severity="moderate",
    serious=False,
    onset_at=T0 + dt.timedelta(minutes=45),
    resolved_at=T0 + dt.timedelta(minutes=90),
    suspect_administration_ids=("21",),
)


def _codes(cc: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(c["system"], c["code"]) for c in cc["coding"]]


def test_encounter_is_valid_and_maps_status_and_period() -> None:
    enc = encounter_resource(SESSION)
    assert validate_resource(enc) == []
    assert enc["status"] == "finished"
    assert enc["class"]["code"] == "AMB"
    assert enc["period"] == {"start": "2026-03-02T09:05:00+00:00", "end": "2026-03-02T11:30:00+00:00"}
    assert enc["subject"] == {"reference": "Patient/3"}
    assert enc["location"] == [{"location": {"display": "Riverside Main"}}]


@pytest.mark.parametrize(
    ("status", "fhir"),
    [
        ("scheduled", "planned"),
        ("checked_in", "arrived"),
        ("pre_dose_checks", "in-progress"),
        ("dosing", "in-progress"),
        ("monitoring", "in-progress"),
        ("discharge_ready", "in-progress"),
        ("discharged", "finished"),
        ("cancelled", "cancelled"),
    ],
)
def test_every_session_status_maps(status: str, fhir: str) -> None:
    s = SessionFacts(id="1", patient_id="2", status=status, scheduled_for=T0)
    enc = encounter_resource(s)
    assert enc["status"] == fhir
    assert enc["period"] == {"start": "2026-03-02T09:00:00+00:00"}
    assert validate_resource(enc) == []


def test_medication_request_states_dose_weight_and_route() -> None:
    mr = medication_request_resource(ORDER)
    assert validate_resource(mr) == []
    assert mr["status"] == "completed" and mr["intent"] == "order"
    assert _codes(mr["medicationCodeableConcept"]) == [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "6130")
    ]
    d = mr["dosageInstruction"][0]
    assert d["text"] == "35.00 mg iv over 40 min (0.500 mg/kg for 70.0 kg measured 2026-02-28)"
    assert _codes(d["route"]) == [("http://snomed.info/sct", "47625008")]
    assert d["doseAndRate"] == [
        {"doseQuantity": {"value": 35.0, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
    ]
    assert d["timing"] == {"repeat": {"count": 1, "duration": 40, "durationUnit": "min"}}
    assert mr["encounter"] == {"reference": "Encounter/session-7"}
    assert mr["note"] == [{"text": "Dose guard: allow."}]


def test_medication_request_esketamine_active_with_override() -> None:
    o = OrderFacts(
        id="12",
        patient_id="3",
        drug="esketamine",
        route="intranasal",
        dose_mg=Decimal("84"),
        signed_at=T0,
        signed_by="Dr Chidi Okafor",
        guard_decision="warn",
        override_reason="Second week, tolerated 56 mg well.",
    )
    mr = medication_request_resource(o)
    assert validate_resource(mr) == []
    assert mr["status"] == "active"
    assert _codes(mr["medicationCodeableConcept"]) == [
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "2120060")
    ]
    assert _codes(mr["dosageInstruction"][0]["route"]) == [("http://snomed.info/sct", "46713006")]
    assert "timing" not in mr["dosageInstruction"][0] and "encounter" not in mr
    assert mr["note"] == [
        {"text": "Dose guard: warn. Prescriber's reason: Second week, tolerated 56 mg well."}
    ]


def test_medication_administration_infusion_period_rate_and_lot() -> None:
    ma = medication_administration_resource(ADMIN)
    assert validate_resource(ma) == []
    assert ma["effectivePeriod"] == {"start": "2026-03-02T09:30:00+00:00", "end": "2026-03-02T10:10:00+00:00"}
    assert ma["contained"][0]["batch"] == {"lotNumber": "KET-2291"}
    assert ma["medicationReference"] == {"reference": "#med"}
    assert ma["request"] == {"reference": "MedicationRequest/order-11"}
    assert ma["context"] == {"reference": "Encounter/session-7"}
    assert ma["dosage"]["dose"]["value"] == 35.0
    assert ma["dosage"]["rateQuantity"]["value"] == 0.875 and ma["dosage"]["rateQuantity"]["code"] == "mg/min"


def test_medication_administration_esketamine_device() -> None:
    a = AdministrationFacts(
        id="22",
        patient_id="3",
        encounter_id="8",
        order_id="12",
        drug="esketamine",
        route="intranasal",
        dose_mg=Decimal("28"),
        administered_at=T0,
        performer="Nurse Joon Kim",
        lot_number="SPR-1",
        device_number=2,
    )
    ma = medication_administration_resource(a)
    assert validate_resource(ma) == []
    assert ma["effectiveDateTime"] == "2026-03-02T09:00:00+00:00" and "effectivePeriod" not in ma
    assert ma["note"] == [{"text": "Device 2."}]


def test_vitals_observations_loinc_codes_and_units() -> None:
    obs = vital_sign_observations(VITALS)
    for o in obs:
        assert validate_resource(o) == []
        assert o["category"][0]["coding"][0]["code"] == "vital-signs"
        assert o["device"] == {"display": "wearable-9"}
    by_id = {o["id"]: o for o in obs}
    assert list(by_id) == ["vitals-31-bp", "vitals-31-hr", "vitals-31-spo2", "vitals-31-rr"]
    bp = by_id["vitals-31-bp"]
    assert _codes(bp["code"]) == [("http://loinc.org", "85354-9")]
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
            for c in bp["component"]] == [("8480-6", 142, "mm[Hg]"), ("8462-4", 88, "mm[Hg]")]  # fmt: skip
    assert _codes(by_id["vitals-31-hr"]["code"]) == [("http://loinc.org", "8867-4")]
    assert by_id["vitals-31-hr"]["valueQuantity"]["code"] == "/min"
    assert _codes(by_id["vitals-31-spo2"]["code"]) == [
        ("http://loinc.org", "2708-6"),
        ("http://loinc.org", "59408-5"),
    ]
    assert by_id["vitals-31-spo2"]["valueQuantity"] == {
        "value": 97,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert _codes(by_id["vitals-31-rr"]["code"]) == [("http://loinc.org", "9279-1")]


def test_partial_vitals_emit_only_measured_signs() -> None:
    v = VitalsFacts(id="5", patient_id="3", encounter_id="7", taken_at=T0, spo2=93)
    obs = vital_sign_observations(v)
    assert [o["id"] for o in obs] == ["vitals-5-spo2"]


def test_adverse_event_resolved_with_suspect_dose() -> None:
    ae = adverse_event_resource(SIDE_EFFECT)
    assert validate_resource(ae) == []
    assert ae["actuality"] == "actual"
    assert _codes(ae["event"]) == [
        ("https://ketaclinic.org/fhir/CodeSystem/session-side-effect", "dissociation")
    ]
    assert _codes(ae["severity"]) == [
        ("http://terminology.hl7.org/CodeSystem/adverse-event-severity", "moderate")
    ]
    assert ae["seriousness"]["coding"][0]["code"] == "non-serious"
    assert ae["outcome"]["coding"][0]["code"] == "resolved"
    assert ae["suspectEntity"] == [{"instance": {"reference": "MedicationAdministration/administration-21"}}]


def test_adverse_event_serious_ongoing() -> None:
    e = SideEffectFacts(
        id="42",
        patient_id="3",
        encounter_id="7",
        code="respiratory_depression",
        display="Respiratory depression",
        severity="severe",
        serious=True,
        onset_at=T0,
    )
    ae = adverse_event_resource(e)
    assert validate_resource(ae) == []
    assert (ae["seriousness"]["coding"][0]["code"], ae["outcome"]["coding"][0]["code"]) == (
        "serious",
        "ongoing",
    )
    assert "suspectEntity" not in ae


def test_session_bundle_is_valid_and_ordered() -> None:
    b = session_bundle(
        SESSION,
        order=ORDER,
        administrations=[ADMIN],
        vitals=[VITALS],
        side_effects=[SIDE_EFFECT],
        base_url="https://clinic.example/fhir/",
    )
    assert validate_resource(b) == []
    types = [e["resource"]["resourceType"] for e in b["entry"]]
    assert types == [
        "Encounter",
        "MedicationRequest",
        "MedicationAdministration",
        "Observation",
        "Observation",
        "Observation",
        "Observation",
        "AdverseEvent",
    ]
    assert b["entry"][0]["fullUrl"] == "https://clinic.example/fhir/Encounter/session-7"


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: encounter_resource(SessionFacts(id="1", patient_id="2", status="paused", scheduled_for=T0)), "status"),
        (lambda: encounter_resource(SessionFacts(id="1", patient_id="2", status="scheduled",
                                                 scheduled_for=T0.replace(tzinfo=None))), "scheduled_for"),
        (lambda: medication_request_resource(OrderFacts(**{**_fields(ORDER), "drug": "propofol"})), "drug"),
        (lambda: medication_request_resource(OrderFacts(**{**_fields(ORDER), "route": "rectal"})), "route"),
        (lambda: medication_administration_resource(
            AdministrationFacts(**{**_fields(ADMIN), "administered_at": T0.replace(tzinfo=None)})), "administered_at"),
        (lambda: vital_sign_observations(VitalsFacts(id="1", patient_id="2", encounter_id="3", taken_at=T0,
                                                     systolic=120)), "diastolic"),
        (lambda: adverse_event_resource(SideEffectFacts(**{**_fields(SIDE_EFFECT), "severity": "grave"})), "severity"),
    ],
)  # fmt: skip
def test_bad_facts_name_the_field(build: object, path: str) -> None:
    with pytest.raises(TreatmentFhirError) as exc:
        build()  # type: ignore[operator]
    assert exc.value.path == path


def _fields(obj: object) -> dict[str, object]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}  # type: ignore[attr-defined]
