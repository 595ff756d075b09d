"""A dosing session's records as FHIR R4 (facts for ketaclinic.core.fhir.treatment, validated before leaving)."""

from __future__ import annotations

from typing import Any

from ketaclinic.core.fhir.treatment import (
    AdministrationFacts,
    OrderFacts,
    SessionFacts,
    SideEffectFacts,
    VitalsFacts,
    session_bundle,
    vital_sign_observations,
)
from ketaclinic.core.fhir.validate import require_valid
from ketaclinic.web.treatment.models import DosingSession, VitalSign


def _who(user: Any) -> str:
    return str(user) if user is not None else ""


def vitals_facts(v: VitalSign) -> VitalsFacts:
    return VitalsFacts(
        id=str(v.pk),
        patient_id=str(v.patient_id),
        encounter_id=str(v.session_id),
        taken_at=v.taken_at,
        systolic=v.systolic,
        diastolic=v.diastolic,
        heart_rate=v.heart_rate,
        spo2=v.spo2,
        respiratory_rate=v.respiratory_rate,
        device_id=v.device_id,
        performer=_who(v.recorded_by),
    )


#: Identifier system of a monitoring device's serial number; readings name the device as `Device/<id>`.
DEVICE_SERIAL_SYSTEM = "urn:ketaclinic:device-serial"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
SENSOR_PREFIX = "sensor-"


class SensorVitals:
    """A session's sensor readings for FHIR: one VitalsFacts per device and 5-minute interval (the median of
    each vital sign, as on the flowsheet), and what each resulting Observation must say about its device."""

    def __init__(self, s: DosingSession) -> None:
        from ketaclinic.web.monitoring.models import Device, SensorReading
        from ketaclinic.web.monitoring.selectors import sensor_vitals_for_flowsheet
        from ketaclinic.web.treatment.selectors import SENSOR_INTERVAL_SECONDS

        ids = set(SensorReading.objects.filter(session=s).values_list("device_id", flat=True).distinct())
        self.devices = list(Device.objects.filter(pk__in=ids).order_by("pk"))
        self.facts: list[VitalsFacts] = []
        self.extra: dict[str, dict[str, Any]] = {}  # Observation id prefix -> device reference and note
        self.half_bp: dict[str, str] = {}  # Observation id prefix -> the BP component that is missing
        minutes = SENSOR_INTERVAL_SECONDS // 60
        for d in self.devices:
            for r in sensor_vitals_for_flowsheet(
                s.pk, interval_seconds=SENSOR_INTERVAL_SECONDS, device_id=d.pk
            ):
                fid = f"{SENSOR_PREFIX}{d.pk}-{int(r.taken_at.timestamp())}"
                sbp, dbp = r.systolic, r.diastolic
                if (sbp is None) != (dbp is None):  # one BP component in this interval: the other is absent
                    self.half_bp[f"vitals-{fid}-bp"] = "diastolic" if dbp is None else "systolic"
                    sbp = dbp = sbp if sbp is not None else dbp
                self.facts.append(
                    VitalsFacts(
                        id=fid,
                        patient_id=str(s.patient_id),
                        encounter_id=str(s.pk),
                        taken_at=r.taken_at,
                        systolic=sbp,
                        diastolic=dbp,
                        heart_rate=r.heart_rate,
                        spo2=r.spo2,
                        respiratory_rate=r.respiratory_rate,
                    )
                )
                self.extra[f"vitals-{fid}-"] = {
                    "device": {"reference": f"Device/{d.pk}", "display": f"{d.label} ({d.serial})"},
                    "note": [
                        {
                            "text": f"Sensor {d.label}: median of each vital sign over the {minutes}-minute "
                            f"interval ending at this time ({r.readings} readings in all)."
                        }
                    ],
                }

    def finish(self, obs: dict[str, Any]) -> dict[str, Any]:
        """Give a sensor Observation its device reference and note (and mark an absent BP component)."""
        oid = obs.get("id", "")
        if obs.get("resourceType") != "Observation" or not oid.startswith("vitals-" + SENSOR_PREFIX):
            return obs
        obs.update(self.extra[oid[: oid.rfind("-") + 1]])
        missing = self.half_bp.get(oid)
        if missing is not None:
            comp = obs["component"][0 if missing == "systolic" else 1]
            del comp["valueQuantity"]
            comp["dataAbsentReason"] = {
                "coding": [{"system": DATA_ABSENT, "code": "unknown", "display": "Unknown"}]
            }
        return obs

    def device_resources(self) -> list[dict[str, Any]]:
        return [
            {
                "resourceType": "Device",
                "id": str(d.pk),
                "identifier": [{"system": DEVICE_SERIAL_SYSTEM, "value": d.serial}],
                "status": "inactive" if d.revoked_at is not None else "active",
                "deviceName": [{"name": d.label, "type": "user-friendly-name"}],
                "type": {"text": d.get_kind_display()},
            }
            for d in self.devices
        ]


def _all_vitals(s: DosingSession, sensor: SensorVitals) -> list[VitalsFacts]:
    """Manual and sensor vitals in time order (manual first at equal times), as on the flowsheet."""
    manual = [vitals_facts(v) for v in s.vitals.select_related("recorded_by")]
    return sorted(manual + sensor.facts, key=lambda f: f.taken_at)


def session_fhir_bundle(s: DosingSession) -> dict[str, Any]:
    """Encounter, MedicationRequest, MedicationAdministrations, vital-sign Observations (manual and sensor),
    AdverseEvents and the monitoring Devices the sensor Observations reference."""
    from ketaclinic.web.treatment.selectors import course_protocol

    admins = list(s.administrations.select_related("administered_by", "override_by"))
    order = s.order
    order_facts = None
    if order is not None:
        total = sum((a.dose_mg for a in admins), start=0)
        order_facts = OrderFacts(
            id=str(order.pk),
            patient_id=str(order.patient_id),
            drug=order.drug,
            route=order.route,
            dose_mg=order.dose_mg,
            signed_at=order.signed_at,
            signed_by=_who(order.signed_by),
            status=order.status,
            duration_min=order.duration_min,
            dose_mg_per_kg=order.dose_mg_per_kg,
            weight_kg=order.weight_kg,
            weight_measured_at=order.weight_measured_at,
            encounter_id=str(s.pk),
            guard_decision=order.guard_decision,
            override_reason=order.override_reason,
            completed=s.status == DosingSession.Status.DISCHARGED and total >= order.dose_mg,
        )
    site = s.site
    sensor = SensorVitals(s)
    bundle = session_bundle(
        SessionFacts(
            id=str(s.pk),
            patient_id=str(s.patient_id),
            status=s.status,
            scheduled_for=s.scheduled_for,
            checked_in_at=s.checked_in_at,
            ended_at=s.discharged_at,
            site_name=site.name if site is not None else "",
            clinic_name=s.clinic.name,
            protocol_name=course_protocol(s.course).name,
        ),
        order=order_facts,
        administrations=[
            AdministrationFacts(
                id=str(a.pk),
                patient_id=str(s.patient_id),
                encounter_id=str(s.pk),
                order_id=str(a.order_id),
                drug=a.drug,
                route=a.route,
                dose_mg=a.dose_mg,
                administered_at=a.administered_at,
                performer=_who(a.administered_by),
                lot_number=a.lot_number,
                duration_min=a.duration_min,
                device_number=a.device_number,
                override_reason=a.override_reason,
            )
            for a in admins
        ],
        vitals=_all_vitals(s, sensor),
        side_effects=[
            SideEffectFacts(
                id=str(e.pk),
                patient_id=str(s.patient_id),
                encounter_id=str(s.pk),
                code=e.code,
                display=e.get_code_display(),
                severity=e.severity,
                serious=e.serious,
                onset_at=e.onset_at,
                resolved_at=e.resolved_at,
                notes=e.notes,
                recorder=_who(e.recorded_by),
                suspect_administration_ids=tuple(
                    str(a.pk) for a in admins if a.administered_at <= e.onset_at
                ),
            )
            for e in s.side_effects.select_related("recorded_by")
        ],
    )
    for e in bundle["entry"]:
        sensor.finish(e["resource"])
    bundle["entry"].extend({"resource": d} for d in sensor.device_resources())
    return require_valid(bundle)


def vitals_fhir_bundle(s: DosingSession) -> dict[str, Any]:
    """The session's vital signs (manual and sensor) as FHIR vital-signs Observations (LOINC-coded) in a
    collection Bundle; sensor Observations reference `Device/<id>` (not included here; the session bundle has them)."""
    sensor = SensorVitals(s)
    entries = [
        {"resource": sensor.finish(obs)} for v in _all_vitals(s, sensor) for obs in vital_sign_observations(v)
    ]
    return require_valid({"resourceType": "Bundle", "type": "collection", "entry": entries})
