"""A patient's therapy sessions as FHIR R4 (Encounter, Observation), with psychotherapy notes only when the patient authorised it."""

from __future__ import annotations

import base64
import datetime as dt
from typing import TYPE_CHECKING, Any

from ketaclinic.core.fhir.validate import require_valid
from ketaclinic.web.therapy.models import PsychotherapyNote, TherapySession

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#: Local code system for the session kind and the patient-rated measures (no standard code exists for them).
KETACLINIC_THERAPY = "https://ketaclinic.example/fhir/CodeSystem/therapy"


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def session_encounter(s: TherapySession) -> dict[str, Any]:
    remote = s.modality != TherapySession.Modality.IN_PERSON
    enc: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": f"therapy-{s.pk}",
        "status": "finished",
        "class": {
            "system": ACT_CODE,
            "code": "VR" if remote else "AMB",
            "display": "virtual" if remote else "ambulatory",
        },
        "type": [
            {
                "coding": [{"system": KETACLINIC_THERAPY, "code": s.kind, "display": s.get_kind_display()}],
                "text": f"{s.get_kind_display()}: {s.get_approach_display()}",
            }
        ],
        "subject": {"reference": f"Patient/{s.patient_id}"},
        "participant": [{"individual": {"display": str(s.therapist)}}],
        "period": {"start": _iso(s.held_at), "end": _iso(s.held_at + dt.timedelta(minutes=s.duration_min))},
    }
    if s.dosing_session_id:
        enc["partOf"] = {"reference": f"Encounter/{s.dosing_session_id}", "display": "dosing session"}
    return enc


def session_observations(s: TherapySession) -> list[dict[str, Any]]:
    out = []
    for code, label, value in (
        ("wellbeing", "Patient-rated wellbeing (0-10)", s.wellbeing),
        ("session-rating", "Patient-rated usefulness of the session (0-10)", s.session_rating),
    ):
        if value is None:
            continue
        out.append(
            {
                "resourceType": "Observation",
                "id": f"therapy-{s.pk}-{code}",
                "status": "final",
                "code": {
                    "coding": [{"system": KETACLINIC_THERAPY, "code": code, "display": label}],
                    "text": label,
                },
                "subject": {"reference": f"Patient/{s.patient_id}"},
                "encounter": {"reference": f"Encounter/therapy-{s.pk}"},
                "effectiveDateTime": _iso(s.held_at),
                "valueInteger": value,
            }
        )
    return out


def note_document(n: PsychotherapyNote) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": f"psychotherapy-note-{n.pk}",
        "status": "current",
        "type": {"text": "Psychotherapy note (disclosed under the patient's authorisation)"},
        "subject": {"reference": f"Patient/{n.patient_id}"},
        "date": _iso(n.created_at),
        "author": [{"display": str(n.author)}],
        "securityLabel": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": "PSY",
                        "display": "psychiatry information sensitivity",
                    }
                ]
            }
        ],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(n.text.encode("utf-8")).decode("ascii"),
                }
            }
        ],
        "context": {"encounter": [{"reference": f"Encounter/therapy-{n.session_id}"}]},
    }


def therapy_resources(sessions: list[TherapySession], notes: list[PsychotherapyNote]) -> list[dict[str, Any]]:
    """Every session's Encounter and measures, then the given notes; each resource validated with fhir.resources."""
    resources: list[dict[str, Any]] = []
    for s in sessions:
        resources.append(session_encounter(s))
        resources.extend(session_observations(s))
    resources.extend(note_document(n) for n in notes)
    return [require_valid(r) for r in resources]


def export_bundle(patient: Patient, user: Any, *, on: dt.date) -> tuple[dict[str, Any], int]:
    """The patient's therapy record as a FHIR collection Bundle, and how many psychotherapy notes it carries.

    Notes are included only while the patient's authorisation is in force (45 CFR 164.508(a)(2)), and even then
    only the notes `user` may see (written by or shared with them).
    """
    from ketaclinic.web.therapy import selectors

    sessions = list(selectors.sessions_for_patient(patient).order_by("held_at", "pk"))
    notes: list[PsychotherapyNote] = []
    if selectors.active_notes_authorisation(patient, on) is not None:
        notes = list(selectors.notes_visible_to(user, patient).order_by("created_at", "pk"))
    entries = [{"resource": r} for r in therapy_resources(sessions, notes)]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}, len(notes)
