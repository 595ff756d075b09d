"""FHIR API of a dosing session: the whole session as a valid R4 Bundle, and its vitals as LOINC Observations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from tests.web.treatment.treatment_helpers import session_for, to_pre_dose

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web.treatment import actions as A

pytestmark = pytest.mark.django_db


def test_session_bundle_after_a_dose_with_a_side_effect(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = session_for(prescriber, nurse, patient)
    to_pre_dose(nurse, s)
    t0 = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)
    a = A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg="35", lot_number="KET-L1", administered_at=t0, duration_min=40
    )
    A.do_record_vitals(
        actor=nurse, session_id=s.pk, values={"systolic": 150, "diastolic": 90, "spo2": 96}, taken_at=t0
    )
    se = A.do_record_side_effect(actor=nurse, session_id=s.pk, code="nausea_vomiting", severity="mild")
    c = client_as(nurse)
    r = c.get(f"/api/v1/treatment/sessions/{s.pk}/fhir")
    assert r.status_code == 200
    b = r.json()
    assert validate_resource(b) == []
    ids = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in b["entry"]]
    # Observations follow the flowsheet order (taken_at): the dose-time set at t0 precedes the baseline taken 1 min ago.
    v_base = s.vitals.get(is_baseline=True)
    v_dose = s.vitals.get(is_baseline=False)
    assert ids == [
        ("Encounter", f"session-{s.pk}"),
        ("MedicationRequest", f"order-{s.order_id}"),
        ("MedicationAdministration", f"administration-{a.pk}"),
        ("Observation", f"vitals-{v_dose.pk}-bp"),
        ("Observation", f"vitals-{v_dose.pk}-spo2"),
        ("Observation", f"vitals-{v_base.pk}-bp"),
        ("Observation", f"vitals-{v_base.pk}-hr"),
        ("Observation", f"vitals-{v_base.pk}-spo2"),
        ("Observation", f"vitals-{v_base.pk}-rr"),
        ("AdverseEvent", f"side-effect-{se.pk}"),
    ]
    res = {e["resource"]["id"]: e["resource"] for e in b["entry"]}
    assert res[f"session-{s.pk}"]["status"] == "in-progress"
    mr = res[f"order-{s.order_id}"]
    assert (mr["status"], mr["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]) == (
        "active",
        35.0,
    )
    ma = res[f"administration-{a.pk}"]
    assert ma["contained"][0]["batch"] == {"lotNumber": "KET-L1"}
    assert ma["performer"] == [{"actor": {"display": str(nurse)}}]
    bp = res[f"vitals-{v_dose.pk}-bp"]
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [150, 90]
    ae = res[f"side-effect-{se.pk}"]
    assert ae["event"]["coding"][0]["code"] == "nausea_vomiting"
    assert ae["suspectEntity"] == [
        {"instance": {"reference": f"MedicationAdministration/administration-{a.pk}"}}
    ]

    r = c.get(f"/api/v1/treatment/sessions/{s.pk}/vitals/fhir")
    vb = r.json()
    assert validate_resource(vb) == []
    assert [e["resource"]["code"]["coding"][0]["code"] for e in vb["entry"]] == [
        "85354-9", "2708-6", "85354-9", "8867-4", "2708-6", "9279-1",
    ]  # fmt: skip


def test_session_fhir_outside_clinic_is_not_found(
    cleared: None,
    prescriber: Any,
    nurse: Any,
    patient: Any,
    client_as: Any,
    make_user: Any,
    other_clinic: Any,
) -> None:
    s = session_for(prescriber, nurse, patient)
    stranger = make_user("nurse", clinic=other_clinic, username="stranger")
    r = client_as(stranger).get(f"/api/v1/treatment/sessions/{s.pk}/fhir")
    assert r.status_code in (403, 404)
    assert r.json()["error"]["code"] in ("not_found", "permission_denied")
