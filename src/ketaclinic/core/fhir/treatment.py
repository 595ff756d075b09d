"""Map a dosing session to FHIR R4 resources: Encounter, MedicationRequest, MedicationAdministration, vital-sign
Observations (LOINC) and AdverseEvent. Pure dict builders over frozen facts; validate with `validate.py`.

Codes and their sources:
* Vital signs: the FHIR R4 vital-signs profiles fix the LOINC codes and UCUM units [V]
  (http://hl7.org/fhir/R4/observation-vitalsigns.html): blood-pressure panel 85354-9 with systolic 8480-6 and
  diastolic 8462-4 in mm[Hg]; heart rate 8867-4, respiratory rate 9279-1 in /min; oxygen saturation 2708-6
  plus the pulse-oximetry code 59408-5 in %.
* Medication: RxNorm ingredients ketamine 6130 and esketamine 2120060 (core/terminology/data/rxnorm.yaml, [R]
  there: confirm with RxNav).
* Route: SNOMED CT codes from the FHIR R4 route-codes value set [S]
  (http://hl7.org/fhir/R4/valueset-route-codes.html).
* Adverse events: the side effect is coded in ketaclinic's own code system (SIDE_EFFECT_SYSTEM) with its display
  text; severity, seriousness and outcome use the HL7 terminology code systems named in the R4 AdverseEvent
  resource [V]. No SNOMED mapping of side effects is asserted here (not verified).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ketaclinic.core.errors import CoreValidationError

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
SIDE_EFFECT_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/session-side-effect"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"

DRUGS: dict[str, tuple[str, str]] = {
    "ketamine": ("6130", "ketamine"),
    "esketamine": ("2120060", "esketamine"),
}
ROUTES: dict[str, tuple[str, str]] = {
    "iv": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "intranasal": ("46713006", "Nasal route"),
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37839007", "Sublingual route"),
}
# (LOINC code, display, UCUM unit) per vital sign; SpO2 carries both profile codes.
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
HEART_RATE = ("8867-4", "Heart rate")
RESP_RATE = ("9279-1", "Respiratory rate")
SPO2 = ("2708-6", "Oxygen saturation in Arterial blood")
SPO2_PULSE_OX = ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")

# Session workflow state -> Encounter.status (R4 encounter-status).
ENCOUNTER_STATUS = {
    "scheduled": "planned",
    "checked_in": "arrived",
    "pre_dose_checks": "in-progress",
    "dosing": "in-progress",
    "monitoring": "in-progress",
    "discharge_ready": "in-progress",
    "discharged": "finished",
    "cancelled": "cancelled",
}
ORDER_STATUS = {"draft": "draft", "signed": "active", "cancelled": "cancelled"}


class TreatmentFhirError(CoreValidationError):
    """The facts cannot be mapped (unknown drug, route, status or severity); names the field."""


@dataclass(frozen=True, slots=True)
class SessionFacts:
    id: str
    patient_id: str
    status: str
    scheduled_for: dt.datetime
    checked_in_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None  # discharged (or cancelled) at
    site_name: str = ""
    clinic_name: str = ""
    protocol_name: str = ""


@dataclass(frozen=True, slots=True)
class OrderFacts:
    id: str
    patient_id: str
    drug: str
    route: str
    dose_mg: Decimal
    signed_at: dt.datetime
    signed_by: str
    status: str = "signed"
    duration_min: int | None = None
    dose_mg_per_kg: Decimal | None = None
    weight_kg: Decimal | None = None
    weight_measured_at: dt.datetime | None = None
    encounter_id: str | None = None
    guard_decision: str = "allow"
    override_reason: str = ""
    completed: bool = False  # every ordered dose has been given


@dataclass(frozen=True, slots=True)
class AdministrationFacts:
    id: str
    patient_id: str
    encounter_id: str
    order_id: str
    drug: str
    route: str
    dose_mg: Decimal
    administered_at: dt.datetime
    performer: str
    lot_number: str
    duration_min: int | None = None
    device_number: int | None = None
    override_reason: str = ""


@dataclass(frozen=True, slots=True)
class VitalsFacts:
    id: str
    patient_id: str
    encounter_id: str
    taken_at: dt.datetime
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    device_id: str | None = None
    performer: str = ""


@dataclass(frozen=True, slots=True)
class SideEffectFacts:
    id: str
    patient_id: str
    encounter_id: str
    code: str
    display: str
    severity: str
    serious: bool
    onset_at: dt.datetime
    resolved_at: dt.datetime | None = None
    notes: str = ""
    recorder: str = ""
    suspect_administration_ids: Sequence[str] = field(default_factory=tuple)


def _aware(value: dt.datetime, path: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise TreatmentFhirError(path, "must be timezone-aware")
    return value.isoformat()


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _medication(drug: str, path: str) -> dict[str, Any]:
    if drug not in DRUGS:
        raise TreatmentFhirError(path, f"unknown drug {drug!r}")
    code, name = DRUGS[drug]
    return _cc(RXNORM, code, name)


def _route(route: str, path: str) -> dict[str, Any]:
    if route not in ROUTES:
        raise TreatmentFhirError(path, f"unknown route {route!r}")
    code, display = ROUTES[route]
    return _cc(SNOMED, code, display)


def _mg(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "unit": "mg", "system": UCUM, "code": "mg"}


def _ref(kind: str, ident: str, display: str = "") -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"{kind}/{ident}"}
    if display:
        ref["display"] = display
    return ref


def encounter_resource(s: SessionFacts) -> dict[str, Any]:
    """The dosing session as an ambulatory Encounter; its period runs from check-in to discharge."""
    if s.status not in ENCOUNTER_STATUS:
        raise TreatmentFhirError("status", f"unknown session status {s.status!r}")
    res: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": f"session-{s.id}",
        "status": ENCOUNTER_STATUS[s.status],
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [{"text": f"Supervised dosing session{': ' + s.protocol_name if s.protocol_name else ''}"}],
        "subject": _ref("Patient", s.patient_id),
    }
    _aware(s.scheduled_for, "scheduled_for")
    if s.checked_in_at is not None:
        period = {"start": _aware(s.checked_in_at, "checked_in_at")}
        if s.ended_at is not None:
            period["end"] = _aware(s.ended_at, "ended_at")
        res["period"] = period
    else:
        res["period"] = {"start": _aware(s.scheduled_for, "scheduled_for")}
    if s.site_name:
        res["location"] = [{"location": {"display": s.site_name}}]
    if s.clinic_name:
        res["serviceProvider"] = {"display": s.clinic_name}
    return res


def medication_request_resource(o: OrderFacts) -> dict[str, Any]:
    """A signed dose order, stating the weight it was computed from and the dose guard's decision."""
    if o.status not in ORDER_STATUS:
        raise TreatmentFhirError("status", f"unknown order status {o.status!r}")
    status = ORDER_STATUS[o.status]
    if status == "active" and o.completed:
        status = "completed"
    text = f"{o.dose_mg} mg {o.route}"
    if o.duration_min:
        text += f" over {o.duration_min} min"
    if o.dose_mg_per_kg is not None and o.weight_kg is not None:
        text += f" ({o.dose_mg_per_kg} mg/kg for {o.weight_kg} kg"
        if o.weight_measured_at is not None:
            text += f" measured {_aware(o.weight_measured_at, 'weight_measured_at')[:10]}"
        text += ")"
    dosage: dict[str, Any] = {
        "text": text,
        "route": _route(o.route, "route"),
        "doseAndRate": [{"doseQuantity": _mg(o.dose_mg)}],
    }
    if o.duration_min:
        dosage["timing"] = {"repeat": {"count": 1, "duration": o.duration_min, "durationUnit": "min"}}
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"order-{o.id}",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": _medication(o.drug, "drug"),
        "subject": _ref("Patient", o.patient_id),
        "authoredOn": _aware(o.signed_at, "signed_at"),
        "requester": {"display": o.signed_by},
        "dosageInstruction": [dosage],
    }
    if o.encounter_id:
        res["encounter"] = _ref("Encounter", f"session-{o.encounter_id}")
    note = f"Dose guard: {o.guard_decision}."
    if o.override_reason:
        note += f" Prescriber's reason: {o.override_reason}"
    res["note"] = [{"text": note}]
    return res


def medication_administration_resource(a: AdministrationFacts) -> dict[str, Any]:
    """One administered dose (an esketamine device); the lot is on a contained Medication's batch."""
    start = _aware(a.administered_at, "administered_at")
    med = {
        "resourceType": "Medication",
        "id": "med",
        "code": _medication(a.drug, "drug"),
        "batch": {"lotNumber": a.lot_number},
    }
    res: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": f"administration-{a.id}",
        "contained": [med],
        "status": "completed",
        "medicationReference": {"reference": "#med"},
        "subject": _ref("Patient", a.patient_id),
        "context": _ref("Encounter", f"session-{a.encounter_id}"),
        "performer": [{"actor": {"display": a.performer}}],
        "request": _ref("MedicationRequest", f"order-{a.order_id}"),
        "dosage": {"route": _route(a.route, "route"), "dose": _mg(a.dose_mg)},
    }
    if a.duration_min:
        end = a.administered_at + dt.timedelta(minutes=a.duration_min)
        res["effectivePeriod"] = {"start": start, "end": end.isoformat()}
        rate = (a.dose_mg / Decimal(a.duration_min)).quantize(Decimal("0.001"))
        res["dosage"]["rateQuantity"] = {
            "value": float(rate),
            "unit": "mg/min",
            "system": UCUM,
            "code": "mg/min",
        }
    else:
        res["effectiveDateTime"] = start
    notes = []
    if a.device_number is not None:
        notes.append(f"Device {a.device_number}.")
    if a.override_reason:
        notes.append(f"Dose-guard warning overridden: {a.override_reason}")
    if notes:
        res["note"] = [{"text": " ".join(notes)}]
    return res


def _quantity(value: int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def vital_sign_observations(v: VitalsFacts) -> list[dict[str, Any]]:
    """One FHIR vital-signs Observation per measured sign (BP as a panel with two components)."""
    when = _aware(v.taken_at, "taken_at")
    if (v.systolic is None) != (v.diastolic is None):
        raise TreatmentFhirError(
            "diastolic" if v.diastolic is None else "systolic", "blood pressure needs both"
        )

    def base(suffix: str, codings: Sequence[tuple[str, str]]) -> dict[str, Any]:
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"vitals-{v.id}-{suffix}",
            "status": "final",
            "category": [
                {"coding": [{"system": OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}
            ],
            "code": {
                "coding": [{"system": LOINC, "code": c, "display": d} for c, d in codings],
                "text": codings[0][1],
            },
            "subject": _ref("Patient", v.patient_id),
            "encounter": _ref("Encounter", f"session-{v.encounter_id}"),
            "effectiveDateTime": when,
        }
        if v.device_id:
            obs["device"] = {"display": v.device_id}
        if v.performer:
            obs["performer"] = [{"display": v.performer}]
        return obs

    out: list[dict[str, Any]] = []
    if v.systolic is not None and v.diastolic is not None:
        bp = base("bp", [BP_PANEL])
        bp["component"] = [
            {
                "code": {"coding": [{"system": LOINC, "code": SYSTOLIC[0], "display": SYSTOLIC[1]}]},
                "valueQuantity": _quantity(v.systolic, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": DIASTOLIC[0], "display": DIASTOLIC[1]}]},
                "valueQuantity": _quantity(v.diastolic, "mm[Hg]"),
            },
        ]
        out.append(bp)
    for suffix, value, codings, unit in (
        ("hr", v.heart_rate, [HEART_RATE], "/min"),
        ("spo2", v.spo2, [SPO2, SPO2_PULSE_OX], "%"),
        ("rr", v.respiratory_rate, [RESP_RATE], "/min"),
    ):
        if value is not None:
            obs = base(suffix, codings)
            obs["valueQuantity"] = _quantity(value, unit)
            out.append(obs)
    return out


def adverse_event_resource(e: SideEffectFacts) -> dict[str, Any]:
    """A side effect seen during the session, with severity, seriousness, outcome and the suspect doses."""
    if e.severity not in ("mild", "moderate", "severe"):
        raise TreatmentFhirError("severity", f"unknown severity {e.severity!r}")
    res: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": f"side-effect-{e.id}",
        "actuality": "actual",
        "event": _cc(SIDE_EFFECT_SYSTEM, e.code, e.display),
        "subject": _ref("Patient", e.patient_id),
        "encounter": _ref("Encounter", f"session-{e.encounter_id}"),
        "date": _aware(e.onset_at, "onset_at"),
        "seriousness": _cc(
            AE_SERIOUSNESS,
            "serious" if e.serious else "non-serious",
            "Serious" if e.serious else "Non-serious",
        ),
        "severity": _cc(AE_SEVERITY, e.severity, e.severity.capitalize()),
        "outcome": _cc(
            AE_OUTCOME,
            "resolved" if e.resolved_at is not None else "ongoing",
            "Resolved" if e.resolved_at is not None else "Ongoing",
        ),
    }
    if e.resolved_at is not None:
        _aware(e.resolved_at, "resolved_at")
    if e.recorder:
        res["recorder"] = {"display": e.recorder}
    if e.suspect_administration_ids:
        res["suspectEntity"] = [
            {"instance": _ref("MedicationAdministration", f"administration-{a}")}
            for a in e.suspect_administration_ids
        ]
    return res


def session_bundle(
    session: SessionFacts,
    *,
    order: OrderFacts | None = None,
    administrations: Sequence[AdministrationFacts] = (),
    vitals: Sequence[VitalsFacts] = (),
    side_effects: Sequence[SideEffectFacts] = (),
    base_url: str = "",
) -> dict[str, Any]:
    """Every resource of one session as a `collection` Bundle (Encounter first)."""
    resources: list[dict[str, Any]] = [encounter_resource(session)]
    if order is not None:
        resources.append(medication_request_resource(order))
    resources.extend(medication_administration_resource(a) for a in administrations)
    for v in vitals:
        resources.extend(vital_sign_observations(v))
    resources.extend(adverse_event_resource(e) for e in side_effects)
    prefix = base_url.rstrip("/")
    entries = []
    for r in resources:
        entry: dict[str, Any] = {"resource": r}
        if prefix:
            entry["fullUrl"] = f"{prefix}/{r['resourceType']}/{r['id']}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
