"""Treatment ↔ monitoring wiring: discharge and cancellation detach the session's sensors (in the same
transaction), the run sheet attaches and detaches them, the flowsheet lists sensor rows beside manual ones,
and the FHIR export carries the sensor Observations with their Device."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from tests.web.monitoring.monitoring_helpers import post, reading
from tests.web.treatment.treatment_helpers import counts, session_for, snapshot, to_pre_dose, waste_remainder

from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.lib.errors import ConflictError, ValidationFailed
from ketaclinic.web.monitoring import actions as M
from ketaclinic.web.monitoring.models import Device, DeviceAttachment, SensorReading
from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.actions import discharge
from ketaclinic.web.treatment.models import DosingSession
from ketaclinic.web.treatment.selectors import flowsheet_rows

pytestmark = pytest.mark.django_db
S = DosingSession.Status

SBP, DBP, HR, SPO2, RR = "8480-6", "8462-4", "8867-4", "59408-5", "9279-1"
UNIT = {SBP: "mm[Hg]", DBP: "mm[Hg]", HR: "/min", SPO2: "%", RR: "/min"}


@pytest.fixture(autouse=True)
def fresh_engine() -> Iterator[None]:
    """The alert engine keeps per-session state in memory; start every test from empty."""
    M.ENGINE.reset()
    M._last_escalation_check[0] = float("inf")
    yield
    M.ENGINE.reset()
    M._last_escalation_check[0] = 0.0


def advance(status: str, prescriber: Any, nurse: Any, patient: Any) -> DosingSession:
    """An IV session moved through the real actions to `status` (checked_in … discharge_ready)."""
    s = session_for(prescriber, nurse, patient)
    if status == S.CHECKED_IN:
        return A.do_check_in(actor=nurse, session_id=s.pk)
    to_pre_dose(nurse, s)  # check-in, baseline vitals, pre-dose checks, ledger withdrawal
    if status == S.PRE_DOSE_CHECKS:
        return DosingSession.objects.get(pk=s.pk)
    t0 = timezone.now() - dt.timedelta(minutes=80)
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg=35, lot_number="KET-L1", duration_min=40, administered_at=t0
    )
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=40))
    if status == S.MONITORING:
        return DosingSession.objects.get(pk=s.pk)
    waste_remainder(nurse, s, prescriber)
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 122, "diastolic": 80, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14},
    )
    A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
    A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    assert status == S.DISCHARGE_READY
    return DosingSession.objects.get(pk=s.pk)


def register(nurse: Any, site: Any, label: str = "Wrist 7", serial: str = "W-0007") -> tuple[Device, str]:
    return M.do_register_device(actor=nurse, site=site, label=label, serial=serial)


def attachments() -> list[tuple[int, int, int | None, str, bool]]:
    return [
        (a.device_id, a.session_id, a.detached_by_id, a.detach_reason, a.detached_at is not None)
        for a in DeviceAttachment.objects.order_by("pk")
    ]


def state() -> dict[str, int]:
    """Row counts; the audit count leaves out reads (showing the run sheet audits the patient view)."""
    return {
        **counts(),
        "audit": AuditEvent.objects.exclude(
            action__in=("patient.view", "session.view")
        ).count(),  # writes, not reads
        "readings": SensorReading.objects.count(),
        "open_attachments": DeviceAttachment.objects.filter(detached_at__isnull=True).count(),
    }


# ---- 1. discharge / cancellation detach the devices --------------------------------------------------------


def test_discharge_detaches_the_device_and_later_readings_are_refused(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = advance(S.MONITORING, prescriber, nurse, patient)
    device, token = register(nurse, s.site)
    att = M.do_attach_device(actor=nurse, device=device, session=s)
    r = post(token, [reading(device, s, seq=1, value=128, ago_s=5)])
    assert r.json() == {"stored": 1, "duplicates": 0, "rejected": [], "alerts": []}

    waste_remainder(nurse, s, prescriber)
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 122, "diastolic": 80, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14},
    )
    A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5)
    A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    assert attachments() == [(device.pk, s.pk, None, "", False)]  # ready for discharge: still worn

    A.do_discharge(actor=nurse, session_id=s.pk)
    s.refresh_from_db()
    assert s.status == S.DISCHARGED
    assert attachments() == [(device.pk, s.pk, nurse.pk, "discharged", True)]
    att.refresh_from_db()
    assert att.detached_at is not None and s.discharged_at is not None and att.detached_at <= s.discharged_at
    detach = AuditEvent.objects.get(action="device.detach")
    assert (detach.actor_id, detach.object_id, detach.detail) == (
        nurse.pk,
        str(s.pk),
        {"attachments": [att.pk], "reason": "discharged"},
    )

    # A reading sent for the session afterwards is refused, per reading, naming the field; nothing stored.
    before = SensorReading.objects.count()
    r = post(token, [reading(device, s, seq=2, value=130, ago_s=1), reading(device, s, seq=3, metric=HR,
                                                                              unit="/min", value=70)])  # fmt: skip
    assert r.status_code == 200
    assert r.json() == {
        "stored": 0,
        "duplicates": 0,
        "rejected": [
            {"index": 0, "fields": {"session": ["the device is not attached to a session"]}},
            {"index": 1, "fields": {"session": ["the device is not attached to a session"]}},
        ],
        "alerts": [],
    }
    assert SensorReading.objects.count() == before == 1
    me = client_as(nurse).get("/api/v1/monitoring/devices/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.json()["session"] is None
    # The device is free for the next patient.
    assert list(DeviceAttachment.objects.filter(device=device, detached_at__isnull=True)) == []


def test_refused_discharge_leaves_the_device_attached(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = advance(S.DISCHARGE_READY, prescriber, nurse, patient)
    device, token = register(nurse, s.site)
    M.do_attach_device(actor=nurse, device=device, session=s)
    # A blood pressure above the discharge limit after the patient was marked ready: discharge is refused.
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 170, "diastolic": 80, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14},
    )
    before, snap, rows = state(), snapshot(s), attachments()
    with pytest.raises(ConflictError) as exc:
        A.do_discharge(actor=nurse, session_id=s.pk)
    assert "discharge criteria not met" in exc.value.message
    assert state() == before and snapshot(s) == snap and attachments() == rows
    assert rows == [(device.pk, s.pk, None, "", False)]
    assert not AuditEvent.objects.filter(action="device.detach").exists()
    # Readings still flow for the session.
    assert post(token, [reading(device, s, seq=1, value=150, ago_s=1)]).json()["stored"] == 1


def test_discharge_failing_after_the_detach_rolls_the_detach_back(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = advance(S.DISCHARGE_READY, prescriber, nurse, patient)
    device, _ = register(nurse, s.site)
    M.do_attach_device(actor=nurse, device=device, session=s)
    calls: list[int] = []
    real = discharge._detach_sensors

    def detach_then_fail_later(actor: Any, session: Any, reason: str) -> int:
        calls.append(real(actor, session, reason))
        return calls[-1]

    def broken_transition(*a: Any, **k: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(discharge, "_detach_sensors", detach_then_fail_later)
    monkeypatch.setattr(discharge, "_transition", broken_transition)
    before, snap = state(), snapshot(s)
    with pytest.raises(RuntimeError):
        A.do_discharge(actor=nurse, session_id=s.pk)
    assert calls == [1]  # the device was detached inside the discharge transaction …
    assert state() == before and snapshot(s) == snap  # … and rolled back with it: both or neither
    assert attachments() == [(device.pk, s.pk, None, "", False)]


def test_cancel_detaches_and_a_refused_cancel_does_not(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = advance(S.CHECKED_IN, prescriber, nurse, patient)
    device, token = register(nurse, s.site)
    M.do_attach_device(actor=nurse, device=device, session=s)
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        A.do_cancel_session(actor=nurse, session_id=s.pk, reason="  ")
    assert exc.value.fields == {"reason": ["is required"]}
    assert state() == before and attachments() == [(device.pk, s.pk, None, "", False)]

    A.do_cancel_session(actor=nurse, session_id=s.pk, reason="patient unwell")
    assert attachments() == [(device.pk, s.pk, nurse.pk, "session cancelled", True)]
    r = post(token, [reading(device, s, seq=1, value=128, ago_s=1)])
    assert r.json()["rejected"] == [
        {"index": 0, "fields": {"session": ["the device is not attached to a session"]}}
    ]


def test_cancel_refused_while_holding_stock_keeps_the_device(
    cleared: None, prescriber: Any, nurse: Any, patient: Any
) -> None:
    s = advance(S.PRE_DOSE_CHECKS, prescriber, nurse, patient)  # stock withdrawn for the session
    device, _ = register(nurse, s.site)
    M.do_attach_device(actor=nurse, device=device, session=s)
    before = state()
    with pytest.raises(ConflictError) as exc:
        A.do_cancel_session(actor=nurse, session_id=s.pk, reason="patient unwell")
    assert exc.value.fields == {"ledger": ["return the unopened stock to storage before cancelling"]}
    assert state() == before and attachments() == [(device.pk, s.pk, None, "", False)]


# ---- 2. flowsheet: sensor rows beside manual ones -------------------------------------------------------------


def _hm(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%H:%M")


def test_flowsheet_merges_manual_and_sensor_rows(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = advance(S.MONITORING, prescriber, nurse, patient)
    baseline = s.vitals.get()  # manual row 1: the pre-dose baseline
    device, token = register(nurse, s.site)
    M.do_attach_device(actor=nurse, device=device, session=s)
    # Two 5-minute intervals aligned to the clock (the selector buckets by epoch // 300).
    b = dt.datetime.fromtimestamp(
        (int((timezone.now() - dt.timedelta(minutes=30)).timestamp()) // 300) * 300, tz=dt.UTC
    )
    at = lambda sec: b + dt.timedelta(seconds=sec)  # noqa: E731
    batch = [
        reading(device, s, metric=SBP, unit=UNIT[SBP], value=130, seq=1, at=at(10)),
        reading(device, s, metric=SBP, unit=UNIT[SBP], value=150, seq=2, at=at(30)),
        reading(device, s, metric=SBP, unit=UNIT[SBP], value=134, seq=3, at=at(20)),
        reading(device, s, metric=DBP, unit=UNIT[DBP], value=80, seq=4, at=at(10)),
        reading(device, s, metric=DBP, unit=UNIT[DBP], value=82, seq=5, at=at(20)),
        reading(device, s, metric=DBP, unit=UNIT[DBP], value=90, seq=6, at=at(30)),
        reading(device, s, metric=HR, unit=UNIT[HR], value=70, seq=7, at=at(10)),
        reading(device, s, metric=HR, unit=UNIT[HR], value=74, seq=8, at=at(25)),
        reading(device, s, metric=SPO2, unit=UNIT[SPO2], value=97, seq=9, at=at(310)),
        reading(device, s, metric=SPO2, unit=UNIT[SPO2], value=95, seq=10, at=at(320)),
        reading(device, s, metric=SPO2, unit=UNIT[SPO2], value=96, seq=11, at=at(330)),
        reading(device, s, metric=RR, unit=UNIT[RR], value=14, seq=12, at=at(340)),
    ]
    assert post(token, batch).json()["stored"] == 12
    manual = A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 138, "diastolic": 84, "heart_rate": 76, "spo2": 97, "respiratory_rate": 15},
        taken_at=at(100),
    )[0]

    rows = flowsheet_rows(s)
    t0 = s.first_dose_at
    assert t0 is not None
    minute = lambda t: int((t - t0).total_seconds() // 60)  # noqa: E731
    got = [
        (r["at"], r["kind"], r["source"], r["v"].systolic, r["v"].diastolic, r["v"].heart_rate, r["v"].spo2,
         r["v"].respiratory_rate, r["devices"], r["readings"], r["min"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        (at(30), "vitals", "sensor", 134, 82, 72, None, None, "Wrist 7", 8, minute(at(30))),
        (at(100), "vitals", "manual", 138, 84, 76, 97, 15, "", None, minute(at(100))),
        (at(340), "vitals", "sensor", None, None, None, 96, 14, "Wrist 7", 4, minute(at(340))),
        (baseline.taken_at, "vitals", "manual", 120, 80, 70, 98, 14, "", None, minute(baseline.taken_at)),
    ]
    assert rows[1]["v"] == manual

    # The run sheet shows the same rows, sensor ones marked with a badge and the device name.
    page = client_as(nurse).get(f"/treatment/sessions/{s.pk}/").content.decode()
    table = page[page.index('id="flowsheet"') :]
    table = table[: table.index("</table>")]
    trs = re.findall(r'<tr data-source="(\w+)"[^>]*>(.*?)</tr>', table, flags=re.S)
    text = [(src, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())) for src, body in trs]
    m = [str(minute(x)) for x in (at(30), at(100), at(340), baseline.taken_at)]
    assert text == [
        ("sensor", f"{_hm(at(30))} {m[0]} 134/82 72 sensor Wrist 7 · median of 8"),
        ("manual", f"{_hm(at(100))} {m[1]} 138/84 76 97 15 manual"),
        ("sensor", f"{_hm(at(340))} {m[2]} 96 14 sensor Wrist 7 · median of 4"),
        ("manual", f"{_hm(baseline.taken_at)} {m[3]} 120/80 70 98 14 manual (baseline)"),
    ]
    assert table.count('<span class="badge sensor"') == 2


# ---- 3. attach / detach from the run sheet ------------------------------------------------------------------


def test_run_sheet_offers_free_site_devices_and_attaches_one(
    cleared: None,
    prescriber: Any,
    nurse: Any,
    auditor: Any,
    patient: Any,
    client_as: Any,
    make_user: Any,
    other_clinic: Any,
) -> None:
    s = advance(S.MONITORING, prescriber, nurse, patient)
    free, _ = register(nurse, s.site, "Wrist A", "W-A")
    revoked, _ = register(nurse, s.site, "Wrist B", "W-B")
    M.do_revoke_device(actor=nurse, device=revoked, reason="lost")
    elsewhere_site = Site.objects.create(clinic=s.clinic, name="Annex", jurisdiction="US-CA")
    elsewhere, _ = register(nurse, elsewhere_site, "Wrist C", "W-C")
    busy, _ = register(nurse, s.site, "Wrist D", "W-D")
    other_patient_session = advance(S.CHECKED_IN, prescriber, nurse, _second_patient(patient))
    M.do_attach_device(actor=nurse, device=busy, session=other_patient_session)
    outside_admin = make_user("nurse", clinic=other_clinic, username="outside-nurse")
    foreign_site = Site.objects.create(clinic=other_clinic, name="Far", jurisdiction="US-CA")
    foreign, _ = M.do_register_device(actor=outside_admin, site=foreign_site, label="Wrist F", serial="W-F")

    c = client_as(nurse)
    page = c.get(f"/treatment/sessions/{s.pk}/").content.decode()
    options = re.findall(
        r'<option value="(\d+)">([^<]*)</option>', page[page.index('id="att-device"') :].split("</select>")[0]
    )
    assert options == [(str(free.pk), "Wrist A (W-A, Wearable sensor)")]
    assert 'id="no-devices"' in page

    # Refusals name the field and change nothing.
    before = state()
    for device_id, message in (
        (foreign.pk, "device: choose a device registered in this clinic"),
        ("x", "device: choose a device"),
        (busy.pk, f"device: attached to session {other_patient_session.pk}; detach it first"),
        (elsewhere.pk, f"session: is at another site than the device (site {elsewhere_site.pk})"),
    ):
        r = c.post(f"/treatment/sessions/{s.pk}/attach_device", {"device": device_id}, follow=True)
        assert message in [str(m) for m in r.context["messages"]], device_id
    r = c.post(f"/treatment/sessions/{s.pk}/detach_device", {"device": free.pk}, follow=True)
    assert "device: Wrist A is not attached to this session" in [str(m) for m in r.context["messages"]]
    assert state() == before

    r = c.post(f"/treatment/sessions/{s.pk}/attach_device", {"device": free.pk}, follow=True)
    assert "Saved." in [str(m) for m in r.context["messages"]]
    assert r.content.decode().count('<li class="success">Saved.</li>') == 1  # shown once, by the layout
    assert [(a.device_id, a.session_id, a.attached_by_id, a.detached_at) for a in
            DeviceAttachment.objects.filter(session=s)] == [(free.pk, s.pk, nurse.pk, None)]  # fmt: skip
    page = r.content.decode()
    assert f'<li data-device="{free.pk}">Wrist A (W-A) attached' in page
    assert 'id="no-attachable-devices"' in page  # the only free device is now in use
    assert AuditEvent.objects.filter(action="device.attach", actor=nurse).count() == 2
    # An auditor sees the attached sensor but no attach or detach controls.
    seen = client_as(auditor).get(f"/treatment/sessions/{s.pk}/").content.decode()
    assert f'<li data-device="{free.pk}">Wrist A (W-A) attached' in seen
    assert "detach_device" not in seen and 'id="form-attach-device"' not in seen

    r = c.post(f"/treatment/sessions/{s.pk}/detach_device", {"device": free.pk}, follow=True)
    assert list(
        DeviceAttachment.objects.filter(session=s).values_list("device_id", "detached_by_id", "detach_reason")
    ) == [(free.pk, nurse.pk, "detached from the run sheet")]


def test_run_sheet_attach_refused_for_a_finished_session_and_for_an_outsider(
    cleared: None,
    prescriber: Any,
    nurse: Any,
    patient: Any,
    client_as: Any,
    make_user: Any,
    other_clinic: Any,
) -> None:
    s = advance(S.CHECKED_IN, prescriber, nurse, patient)
    A.do_cancel_session(actor=nurse, session_id=s.pk, reason="patient unwell")
    device, _ = register(nurse, s.site)
    page = client_as(nurse).get(f"/treatment/sessions/{s.pk}/").content.decode()
    assert 'id="sensors-panel"' not in page  # nothing to attach to a finished session
    before = state()
    r = client_as(nurse).post(f"/treatment/sessions/{s.pk}/attach_device", {"device": device.pk}, follow=True)
    assert "status cancelled does not take a device" in " ".join(str(m) for m in r.context["messages"])
    outsider = make_user("nurse", clinic=other_clinic, username="outsider")
    r = client_as(outsider).post(
        f"/treatment/sessions/{s.pk}/attach_device", {"device": device.pk}, follow=True
    )
    assert "no such session" in [str(m) for m in r.context["messages"]]
    assert state() == before


def _second_patient(patient: Any) -> Any:
    from ketaclinic.web.patients.models import Patient, WeightMeasurement

    p = Patient.objects.create(
        clinic=patient.clinic, mrn="MRN-SENSOR-2", given_name="Jo", family_name="Park",
        birth_date=patient.birth_date, sex_at_birth=patient.sex_at_birth, home_site=patient.home_site,
    )  # fmt: skip
    w = patient.latest_weight()
    WeightMeasurement.objects.create(patient=p, weight_kg=w.weight_kg, measured_at=w.measured_at)
    return p


# ---- 4. FHIR: sensor Observations reference their Device ----------------------------------------------------


def test_session_fhir_includes_sensor_observations_with_device(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = advance(S.MONITORING, prescriber, nurse, patient)
    device, token = register(nurse, s.site)
    M.do_attach_device(actor=nurse, device=device, session=s)
    b = dt.datetime.fromtimestamp(
        (int((timezone.now() - dt.timedelta(minutes=30)).timestamp()) // 300) * 300, tz=dt.UTC
    )
    t1, t2 = b + dt.timedelta(seconds=40), b + dt.timedelta(seconds=350)
    batch = [
        reading(device, s, metric=SBP, unit=UNIT[SBP], value=131, seq=1, at=t1 - dt.timedelta(seconds=5)),
        reading(device, s, metric=DBP, unit=UNIT[DBP], value=79, seq=2, at=t1),
        reading(device, s, metric=SBP, unit=UNIT[SBP], value=133, seq=3, at=t2),  # no diastolic in interval 2
        reading(device, s, metric=HR, unit=UNIT[HR], value=71, seq=4, at=t2 - dt.timedelta(seconds=1)),
    ]
    assert post(token, batch).json()["stored"] == 4
    bundle = client_as(nurse).get(f"/api/v1/treatment/sessions/{s.pk}/fhir").json()
    assert validate_resource(bundle) == []
    res = {(e["resource"]["resourceType"], e["resource"]["id"]): e["resource"] for e in bundle["entry"]}
    f1, f2 = (
        f"vitals-sensor-{device.pk}-{int(t1.timestamp())}",
        f"vitals-sensor-{device.pk}-{int(t2.timestamp())}",
    )
    sensor_ids = [k for k in res if k[0] == "Observation" and "sensor" in k[1]]
    assert sensor_ids == [
        ("Observation", f"{f1}-bp"),
        ("Observation", f"{f2}-bp"),
        ("Observation", f"{f2}-hr"),
    ]
    ref = {"reference": f"Device/{device.pk}", "display": "Wrist 7 (W-0007)"}
    bp1, bp2, hr2 = (res[k] for k in sensor_ids)
    assert [o["device"] for o in (bp1, bp2, hr2)] == [ref, ref, ref]
    assert [c["valueQuantity"]["value"] for c in bp1["component"]] == [131, 79]
    assert bp2["component"][0]["valueQuantity"]["value"] == 133
    assert "valueQuantity" not in bp2["component"][1]
    assert bp2["component"][1]["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert hr2["valueQuantity"]["value"] == 71 and hr2["effectiveDateTime"] == t2.isoformat()
    assert bp1["note"] == [
        {"text": "Sensor Wrist 7: median of each vital sign over the 5-minute interval ending at this time "
                 "(2 readings in all)."}
    ]  # fmt: skip
    assert res[("Device", str(device.pk))] == {
        "resourceType": "Device",
        "id": str(device.pk),
        "identifier": [{"system": "urn:ketaclinic:device-serial", "value": "W-0007"}],
        "status": "active",
        "deviceName": [{"name": "Wrist 7", "type": "user-friendly-name"}],
        "type": {"text": "Wearable sensor"},
    }
    assert list(res)[-1] == ("Device", str(device.pk))
    vitals = client_as(nurse).get(f"/api/v1/treatment/sessions/{s.pk}/vitals/fhir").json()
    assert validate_resource(vitals) == []
    assert [e["resource"]["id"] for e in vitals["entry"] if "sensor" in e["resource"]["id"]] == [
        f"{f1}-bp",
        f"{f2}-bp",
        f"{f2}-hr",
    ]
