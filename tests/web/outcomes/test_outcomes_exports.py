"""FHIR Bulk Data export (kick-off, status, NDJSON files valid with fhir.resources R4B, scope, audit) and the
de-identified research extract (Safe Harbor identifiers absent, date shift, ages over 89, dictionary)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B import get_fhir_model_class

from ketaclinic.web.assessments.actions import do_record_assessment
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.outcomes.models import ExportJob
from ketaclinic.web.outcomes.synthetic import CourseSpec, make_course
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.screening.actions import do_record_condition

KICKOFF = "/api/v1/outcomes/fhir/$export"
ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _inline(settings: Any) -> None:
    settings.KETACLINIC_EXPORT_INLINE = True


@pytest.fixture
def data(clinic: Clinic, site: Site, other_clinic: Clinic, prescriber: Any, nurse: Any) -> dict[str, Any]:
    clinic.is_synthetic = True
    clinic.save()
    other_clinic.is_synthetic = True
    other_clinic.save()
    old = Patient.objects.create(
        clinic=clinic,
        home_site=site,
        mrn="MRN-OLD",
        given_name="Edith",
        family_name="Okonkwo",
        birth_date=dt.date(1930, 6, 1),
        sex_at_birth="female",
        phone="555-0100",
        email="edith@example.org",
        address_line="1 Elm St",
        city="Sacramento",
        postal_code="95814",
    )
    make_course(
        clinic=clinic,
        patient=old,
        actor=prescriber,
        spec=CourseSpec(
            T0, [(-1, 20), (7, 9), (21, 4)], site=site, side_effects=["nausea_vomiting"], sessions=2
        ),
    )
    do_record_assessment(
        actor=nurse,
        patient_id=old.pk,
        instrument_id="gad7",
        answers=[1, 1, 1, 1, 1, 1, 1],
        context="follow_up",
        assessed_at=T0 + dt.timedelta(days=3),
    )
    do_record_condition(
        actor=prescriber,
        patient_id=old.pk,
        system="icd10cm",
        code="F33.2",
        clinical_status="active",
        text="Major depressive disorder, recurrent severe",
    )
    young = Patient.objects.create(
        clinic=clinic,
        home_site=site,
        mrn="MRN-Y",
        given_name="Tomas",
        family_name="Berg",
        birth_date=dt.date(1990, 1, 1),
        sex_at_birth="male",
    )
    make_course(
        clinic=clinic, patient=young, actor=prescriber, spec=CourseSpec(T0, [(-2, 15), (14, 12)], site=site)
    )
    other_site = Site.objects.create(clinic=other_clinic, name="Elsewhere", jurisdiction="UK")
    stranger = Patient.objects.create(
        clinic=other_clinic,
        home_site=other_site,
        mrn="MRN-X",
        given_name="Xeno",
        family_name="Other",
        birth_date=dt.date(1970, 1, 1),
        sex_at_birth="male",
    )
    make_course(
        clinic=other_clinic,
        patient=stranger,
        actor=type(prescriber).objects.create(username="p-other"),
        spec=CourseSpec(T0, [(-1, 20), (7, 2)], site=other_site),
    )
    return {"old": old, "young": young, "stranger": stranger}


def kickoff(c: Client, **params: str) -> Any:
    return c.get(KICKOFF, params, **ASYNC)


def test_bulk_export_end_to_end(
    data: dict[str, Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    c = client_as(prescriber)
    r = kickoff(c)
    assert r.status_code == 202, r.content
    status_url = r["Content-Location"]
    assert status_url.startswith("http://testserver/api/v1/outcomes/exports/")
    r = c.get(status_url)
    assert r.status_code == 200
    manifest = r.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/api/v1/outcomes/fhir/$export")
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    # 2 patients; 1 condition; 5 PHQ-9 scores written without FHIR (synthetic) + 1 GAD-7 (QR + score
    # Observation); 3 sessions, each an Encounter with one MedicationAdministration; one nausea AdverseEvent.
    assert counts == {
        "Patient": 2,
        "Condition": 1,
        "Observation": 1,
        "QuestionnaireResponse": 1,
        "MedicationAdministration": 3,
        "Encounter": 3,
        "AdverseEvent": 1,
    }
    assert manifest["error"] == []
    seen_patients: set[str] = set()
    for out in manifest["output"]:
        r = c.get(out["url"])
        assert r.status_code == 200 and r["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(r.streaming_content).decode().splitlines()
        assert len(lines) == out["count"]
        for line in lines:
            res = json.loads(line)
            assert res["resourceType"] == out["type"]
            get_fhir_model_class(res["resourceType"]).model_validate(res)  # raises if invalid
            if res["resourceType"] == "Patient":
                seen_patients.add(res["id"])
            ref = (res.get("subject") or res.get("patient") or {}).get("reference")
            if ref:
                assert ref in {f"Patient/{data['old'].pk}", f"Patient/{data['young'].pk}"}
    assert seen_patients == {str(data["old"].pk), str(data["young"].pk)}  # never the other clinic's patient
    actions = list(
        AuditEvent.objects.filter(action__startswith="fhir.bulk_export").values_list("action", flat=True)
    )
    assert actions.count("fhir.bulk_export.kickoff") == 1
    assert actions.count("fhir.bulk_export.complete") == 1
    assert actions.count("fhir.bulk_export.download") == 7


def test_type_and_since_filters(
    data: dict[str, Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    c = client_as(prescriber)
    r = kickoff(c, _type="Patient,Encounter")
    manifest = c.get(r["Content-Location"]).json()
    assert {o["type"]: o["count"] for o in manifest["output"]} == {"Patient": 2, "Encounter": 3}
    r = kickoff(c, _type="Patient", _since="2999-01-01T00:00:00Z")
    assert c.get(r["Content-Location"]).json()["output"] == []


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({}, {"HTTP_ACCEPT": "application/fhir+json"}, "Prefer"),
        ({"_type": "Patient,Claim"}, ASYNC, "_type"),
        ({"_since": "yesterday"}, ASYNC, "_since"),
        ({"_since": "2026-01-01T00:00:00"}, ASYNC, "_since"),
    ],
)
def test_bad_kickoff_names_the_field_and_creates_nothing(
    params: dict[str, str],
    headers: dict[str, str],
    field: str,
    data: dict[str, Any],
    prescriber: Any,
    client_as: Callable[[Any], Client],
) -> None:
    before = (ExportJob.objects.count(), AuditEvent.objects.count())
    r = client_as(prescriber).get(KICKOFF, params, **headers)
    assert r.status_code == 400
    assert field in r.json()["error"]["fields"]
    assert (ExportJob.objects.count(), AuditEvent.objects.count()) == before


def test_kickoff_refused_without_patient_access_and_status_private(
    data: dict[str, Any], prescriber: Any, make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    for role in ("researcher", "nurse"):
        r = kickoff(client_as(make_user(role)))
        assert r.status_code == 403
    assert ExportJob.objects.count() == 0
    r = kickoff(client_as(prescriber))
    status_url = r["Content-Location"]
    assert client_as(make_user("auditor")).get(status_url).status_code == 404  # only the requester
    assert client_as(prescriber).get(status_url + "/Claim.ndjson").status_code == 404


def test_cancel_removes_the_files(
    data: dict[str, Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    c = client_as(prescriber)
    status_url = kickoff(c)["Content-Location"]
    file_url = c.get(status_url).json()["output"][0]["url"]
    assert c.delete(status_url).status_code == 202
    assert c.get(status_url).status_code == 404
    assert c.get(file_url).status_code == 404


def test_research_extract_is_de_identified(
    data: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    researcher = make_user("researcher")
    c = client_as(researcher)
    r = c.post("/api/v1/outcomes/research-extract")
    assert r.status_code == 202
    manifest = c.get(r["Content-Location"]).json()
    files = {o["type"]: o for o in manifest["output"]}
    body = b"".join(c.get(files["research"]["url"]).streaming_content).decode()
    for identifier in (
        "Edith",
        "Okonkwo",
        "MRN-OLD",
        "555-0100",
        "edith@example.org",
        "Elm",
        "Sacramento",
        "95814",
        "1930",
        "Tomas",
        "Berg",
        "Main",
    ):
        assert identifier not in body, identifier
    rows = list(csv.DictReader(io.StringIO(body)))
    assert (
        len(rows) == files["research"]["count"] == 3 + 1 + 2
    )  # PHQ-9 x3 and GAD-7 for Edith, PHQ-9 x2 for Tomas
    by_subject: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_subject.setdefault(row["subject_id"], []).append(row)
    assert len(by_subject) == 2
    ages = sorted({r["age_at_first_dose"] for r in rows})
    assert ages == ["36", "90+"]  # 1930-06-01 → 95 on 2026-03-02, grouped; 1990-01-01 → 36
    edith = next(v for v in by_subject.values() if v[0]["age_at_first_dose"] == "90+")
    phq = [r for r in edith if r["instrument"] == "phq9"]
    assert [r["days_from_first_dose"] for r in phq] == ["-1.00", "7.00", "21.00"]
    assert [(r["is_baseline"], r["response"], r["remission"]) for r in phq] == [
        ("1", "", ""),
        ("0", "1", "0"),
        ("0", "1", "1"),
    ]
    # One shift for all of a subject's dates: intervals kept, and the shift is within ±182 days.
    first = dt.date.fromisoformat(phq[0]["first_dose_date_shifted"])
    assert all(r["first_dose_date_shifted"] == phq[0]["first_dose_date_shifted"] for r in edith)
    assert (dt.date.fromisoformat(phq[2]["score_date_shifted"]) - first).days == 21
    assert abs((first - T0.date()).days) <= 182
    assert {r["jurisdiction"] for r in rows} == {"US-CA"}
    dictionary = b"".join(c.get(files["data_dictionary"]["url"]).streaming_content).decode()
    assert [row["column"] for row in csv.DictReader(io.StringIO(dictionary))] == list(rows[0].keys())
    assert AuditEvent.objects.filter(action="research_extract.download", actor=researcher).count() == 2


def test_research_extract_refused_for_roles_without_research_access(
    data: dict[str, Any], nurse: Any, client_as: Callable[[Any], Client]
) -> None:
    assert client_as(nurse).post("/api/v1/outcomes/research-extract").status_code == 403
    assert ExportJob.objects.count() == 0


def test_research_extract_as_parquet_reads_back_with_the_csv_columns_and_types(
    data: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    import pyarrow.parquet as pq

    from ketaclinic.web.outcomes.research import COLUMNS

    researcher = make_user("researcher")
    c = client_as(researcher)
    r = c.post("/api/v1/outcomes/research-extract?format=parquet")
    assert r.status_code == 202
    files = {o["type"]: o for o in c.get(r["Content-Location"]).json()["output"]}
    assert files["research"]["url"].endswith("/research.parquet") and files["research"]["count"] == 6
    got = c.get(files["research"]["url"])
    assert got["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(b"".join(got.streaming_content)))
    assert table.column_names == [name for name, _, _ in COLUMNS] and table.num_rows == 6
    schema = {f.name: (str(f.type), f.metadata[b"type"].decode()) for f in table.schema}
    assert schema["course_number"] == ("int64", "integer")
    assert schema["days_from_first_dose"] == ("double", "number")
    assert schema["score_date_shifted"] == ("date32[day]", "date")
    assert schema["is_baseline"] == ("bool", "boolean")
    rows = table.to_pylist()
    edith = [x for x in rows if x["age_at_first_dose"] == "90+" and x["instrument"] == "phq9"]
    assert [x["days_from_first_dose"] for x in edith] == [-1.0, 7.0, 21.0]
    assert [(x["is_baseline"], x["response"], x["remission"]) for x in edith] == [
        (True, None, None),
        (False, True, False),
        (False, True, True),
    ]
    assert (edith[2]["score_date_shifted"] - edith[0]["first_dose_date_shifted"]).days == 21
    for identifier in ("Edith", "Okonkwo", "MRN-OLD", "Sacramento", "Tomas"):
        assert identifier not in str(rows)


def test_research_extract_unknown_format_is_refused(
    data: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    r = client_as(make_user("researcher")).post("/api/v1/outcomes/research-extract?format=xlsx")
    assert r.status_code == 400 and r.json()["error"]["fields"] == {
        "format": ["must be one of: csv, parquet"]
    }
    assert ExportJob.objects.count() == 0
