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


def session_fhir_bundle(s: DosingSession) -> dict[str, Any]:
    """Encounter, MedicationRequest, MedicationAdministrations, vital-sign Observations and AdverseEvents."""
    from ketaclinic.web.treatment.actions import course_protocol

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
        vitals=[vitals_facts(v) for v in s.vitals.select_related("recorded_by")],
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
    return require_valid(bundle)


def vitals_fhir_bundle(s: DosingSession) -> dict[str, Any]:
    """The session's vital signs as FHIR vital-signs Observations (LOINC-coded) in a collection Bundle."""
    entries = [
        {"resource": obs}
        for v in s.vitals.select_related("recorded_by")
        for obs in vital_sign_observations(vitals_facts(v))
    ]
    return require_valid({"resourceType": "Bundle", "type": "collection", "entry": entries})
