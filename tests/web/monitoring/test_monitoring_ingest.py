"""Ingestion API: per-reading validation, partial acceptance, idempotency, FHIR input, device checks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.test import Client
from django.utils import timezone
from tests.web.monitoring.monitoring_helpers import post, reading

from ketaclinic.web.monitoring import actions
from ketaclinic.web.monitoring.models import Device, DeviceAttachment, MonitoringAlert, SensorReading
from ketaclinic.web.treatment.models import DosingSession


def test_good_batch_is_stored_in_canonical_units(
    attached: Device, session: DosingSession, token: str
) -> None:
    batch = [
        reading(attached, session, metric="8480-6", value=128, seq=1, ago_s=3),
        reading(attached, session, metric="8462-4", value=82, seq=2, ago_s=3),
        reading(attached, session, metric="8310-5", value=98.6, unit="[degF]", seq=3, ago_s=3),
    ]
    r = post(token, {"readings": batch})
    assert r.status_code == 200
    assert r.json() == {"stored": 3, "duplicates": 0, "rejected": [], "alerts": []}
    rows = list(
        SensorReading.objects.order_by("seq").values_list(
            "metric", "code", "value", "unit", "seq", "session_id"
        )
    )
    assert rows[:2] == [
        ("sbp", "8480-6", 128.0, "mm[Hg]", 1, session.pk),
        ("dbp", "8462-4", 82.0, "mm[Hg]", 2, session.pk),
    ]
    assert rows[2][0:2] == ("temp", "8310-5") and abs(rows[2][2] - 37.0) < 1e-9 and rows[2][3] == "Cel"
    attached.refresh_from_db()
    assert attached.last_seen_at is not None


def test_bad_readings_rejected_one_by_one_good_ones_kept(
    attached: Device, session: DosingSession, token: str
) -> None:
    future = timezone.now() + dt.timedelta(minutes=5)
    batch = [
        reading(attached, session, seq=1, ago_s=2),
        reading(attached, session, seq=2, unit="mmHg"),
        reading(attached, session, seq=3, value=999),
        reading(attached, session, seq=4, at=future),
        reading(attached, session, metric="9999-9", seq=5),
        reading(attached, session, metric="8867-4", unit="/min", value=72, seq=6, ago_s=2),
        "not an object",
    ]
    body = post(token, {"readings": batch}).json()
    assert (body["stored"], body["duplicates"]) == (2, 0)
    assert [(x["index"], list(x["fields"])) for x in body["rejected"]] == [
        (1, ["unit"]), (2, ["value"]), (3, ["time"]), (4, ["metric"]), (6, ["reading"]),
    ]  # fmt: skip
    assert "did you mean 'mm[Hg]'?" in body["rejected"][0]["fields"]["unit"][0]
    assert sorted(SensorReading.objects.values_list("seq", flat=True)) == [1, 6]


def test_retried_batch_stores_nothing_twice(attached: Device, session: DosingSession, token: str) -> None:
    batch = [reading(attached, session, seq=s, ago_s=10 - s) for s in range(1, 6)]
    assert post(token, {"readings": batch}).json()["stored"] == 5
    again = post(token, {"readings": batch}).json()
    assert (again["stored"], again["duplicates"], again["rejected"]) == (0, 5, [])
    partly = post(token, {"readings": [*batch[3:], reading(attached, session, seq=6, ago_s=1)]}).json()
    assert (partly["stored"], partly["duplicates"]) == (1, 2)
    assert SensorReading.objects.count() == 6


def test_duplicate_inside_one_batch_counts_once(attached: Device, session: DosingSession, token: str) -> None:
    r1 = reading(attached, session, seq=7, ago_s=1)
    body = post(token, [r1, dict(r1)]).json()
    assert (body["stored"], body["duplicates"]) == (1, 1)
    assert SensorReading.objects.count() == 1


def test_same_seq_for_another_metric_is_a_different_reading(
    attached: Device, session: DosingSession, token: str
) -> None:
    batch = [
        reading(attached, session, seq=1, ago_s=1),
        reading(attached, session, metric="8462-4", value=80, seq=1, ago_s=1),
    ]
    assert post(token, batch).json()["stored"] == 2


def test_reading_for_another_session_or_device_is_refused(
    attached: Device, session: DosingSession, token: str, make_session: Any, patient: Any, site: Any
) -> None:
    other = make_session(patient, site)
    batch = [
        reading(attached, other, seq=1),
        {**reading(attached, session, seq=2), "device": "99999"},
    ]
    body = post(token, batch).json()
    assert body["stored"] == 0
    assert body["rejected"][0]["fields"] == {
        "session": [f"the device is attached to session {session.pk}, not {other.pk}"]
    }
    assert body["rejected"][1]["fields"] == {"device": [f"is not the authenticated device ({attached.pk})"]}
    assert SensorReading.objects.count() == 0


def test_unattached_device_readings_are_refused(device: Device, session: DosingSession, token: str) -> None:
    body = post(token, [reading(device, session, seq=1)]).json()
    assert body["rejected"] == [
        {"index": 0, "fields": {"session": ["the device is not attached to a session"]}}
    ]
    assert SensorReading.objects.count() == 0


def test_discharged_session_detaches_the_device(attached: Device, session: DosingSession, token: str) -> None:
    DosingSession.objects.filter(pk=session.pk).update(
        status=DosingSession.Status.DISCHARGED, discharged_at=timezone.now()
    )
    body = post(token, [reading(attached, session, seq=1)]).json()
    assert body["stored"] == 0
    assert body["rejected"][0]["fields"] == {"session": ["the device is not attached to a session"]}
    att = DeviceAttachment.objects.get(device=attached)
    assert att.detached_at is not None and att.detach_reason == "session discharged"


def test_fhir_bundle_with_bp_panel(attached: Device, session: DosingSession, token: str) -> None:
    q = {"system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    obs = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "device": {"reference": f"Device/{attached.pk}"}, "encounter": {"reference": f"Encounter/{session.pk}"},
        "identifier": [{"system": "urn:ketaclinic:device-seq", "value": "41"}],
        "effectiveDateTime": (timezone.now() - dt.timedelta(seconds=5)).isoformat(),
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {**q, "value": 132}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {**q, "value": 84}},
        ],
    }  # fmt: skip
    bad = {**obs, "device": None}
    body = post(
        token,
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": obs}, {"resource": bad}]},
    ).json()
    assert body["stored"] == 2
    assert body["rejected"] == [
        {"index": 1, "fields": {"Observation.device": ["required: a reference Device/<id>"]}}
    ]
    assert sorted(SensorReading.objects.values_list("metric", "value", "seq")) == [
        ("dbp", 84.0, 41),
        ("sbp", 132.0, 41),
    ]


def test_malformed_body_uses_the_error_shape(attached: Device, token: str) -> None:
    r = Client().post("/api/v1/monitoring/ingest", data="{nope", content_type="application/json",
                      HTTP_AUTHORIZATION=f"Bearer {token}")  # fmt: skip
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and list(err["fields"]) == ["body"]
    r = post(token, {"values": []})
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {
        "readings": ["required: a list of readings (or a FHIR Bundle of Observations)"]
    }
    assert SensorReading.objects.count() == 0


def test_bad_or_revoked_token_is_refused(
    attached: Device, session: DosingSession, token: str, nurse: Any
) -> None:
    assert post("kcd_wrong", [reading(attached, session)]).status_code == 401
    actions.do_revoke_device(actor=nurse, device=attached, reason="lost")
    assert post(token, [reading(attached, session)]).status_code == 401
    assert SensorReading.objects.count() == 0


def test_stored_readings_are_not_reevaluated_on_retry(
    attached: Device, session: DosingSession, token: str
) -> None:
    batch = [reading(attached, session, value=195, seq=1, ago_s=1)]
    assert [a["rule_id"] for a in post(token, batch).json()["alerts"]] == ["sbp-high"]
    actions.ENGINE.reset()  # a restart: the open alert is restored from storage, not fired again
    assert post(token, batch).json()["alerts"] == []
    assert post(token, [reading(attached, session, value=196, seq=2)]).json()["alerts"] == []
    assert MonitoringAlert.objects.count() == 1


def test_batch_limit(attached: Device, session: DosingSession, token: str) -> None:
    r = post(token, [reading(attached, session, seq=i) for i in range(10_001)])
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"readings": ["at most 10000 readings per batch"]}
    assert SensorReading.objects.count() == 0


def test_device_me(attached: Device, session: DosingSession, token: str) -> None:
    r = Client().get("/api/v1/monitoring/devices/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.json() == {
        "device": str(attached.pk),
        "label": "Wrist 1",
        "site": attached.site_id,
        "session": session.pk,
    }
    assert json.loads(r.content)["session"] == session.pk


def test_large_batch_takes_the_copy_path_and_stays_idempotent(
    attached: Device, session: DosingSession, token: str
) -> None:
    start = timezone.now() - dt.timedelta(minutes=20)
    batch = [
        reading(attached, session, metric="8867-4", unit="/min", value=60 + i % 30, seq=i,
                at=start + dt.timedelta(seconds=i))
        for i in range(400)
    ]  # fmt: skip
    assert (post(token, batch).json()["stored"], SensorReading.objects.count()) == (400, 400)
    again = post(
        token, [*batch, reading(attached, session, metric="8867-4", unit="/min", value=70, seq=400, ago_s=1)]
    ).json()
    assert (again["stored"], again["duplicates"], SensorReading.objects.count()) == (1, 400, 401)
    assert sorted(SensorReading.objects.values_list("seq", flat=True))[-3:] == [398, 399, 400]
