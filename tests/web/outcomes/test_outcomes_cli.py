"""`ketaclinic export-fhir`, `export-research` and `outcomes-recompute`, and the nightly management command."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from typer.testing import CliRunner

from ketaclinic.cli import app
from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.outcomes.models import CohortSnapshot, ExportJob
from ketaclinic.web.outcomes.synthetic import CourseSpec, make_course
from ketaclinic.web.patients.models import Patient

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
runner = CliRunner()


@pytest.fixture
def treated(clinic: Clinic, site: Site, prescriber: Any) -> Patient:
    clinic.is_synthetic = True
    clinic.save()
    p = Patient.objects.create(
        clinic=clinic,
        home_site=site,
        mrn="M1",
        given_name="A",
        family_name="B",
        birth_date=dt.date(1980, 1, 1),
        sex_at_birth="female",
    )
    make_course(
        clinic=clinic, patient=p, actor=prescriber, spec=CourseSpec(T0, [(-1, 20), (7, 9)], site=site)
    )
    return p


def test_export_fhir_json_and_files(treated: Patient, prescriber: Any, tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "export-fhir",
            "--clinic",
            "test-clinic",
            "--user",
            "prescriber",
            "--type",
            "Patient,Encounter",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    obj = json.loads(res.stdout.strip())
    assert [(o["type"], o["count"]) for o in obj["output"]] == [("Patient", 1), ("Encounter", 1)]
    assert (tmp_path / "Patient.ndjson").read_text().count("\n") == 1
    assert "Exporting patients" in res.stderr
    assert ExportJob.objects.get(pk=obj["job"]).status == "complete"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clinic", "nope", "--user", "prescriber"], "clinic: no clinic with slug 'nope'"),
        (["--clinic", "test-clinic", "--user", "ghost"], "user: no active user 'ghost'"),
        (["--clinic", "test-clinic", "--user", "prescriber", "--type", "Claim"], "type: unsupported Claim"),
        (
            ["--clinic", "test-clinic", "--user", "prescriber", "--since", "2026-01-01"],
            "since: must include a timezone",
        ),
        (
            ["--clinic", "test-clinic", "--user", "nurse"],
            "user: nurse may not do outcomes.view in test-clinic",
        ),
    ],
)
def test_export_fhir_bad_input_exits_2(treated: Patient, nurse: Any, args: list[str], message: str) -> None:
    before = ExportJob.objects.count()
    res = runner.invoke(app, ["export-fhir", *args, "--json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert message in res.stderr
    assert ExportJob.objects.count() == before


def test_export_research(treated: Patient, make_user: Any, tmp_path: Path) -> None:
    make_user("researcher", username="res")
    res = runner.invoke(
        app, ["export-research", "--clinic", "test-clinic", "--user", "res", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.stderr
    assert "research: 2 -> " in res.stdout
    assert (tmp_path / "research.csv").read_text().count("\n") == 3
    assert (tmp_path / "data_dictionary.csv").exists()


def test_recompute_cli_and_management_command(treated: Patient) -> None:
    res = runner.invoke(app, ["outcomes-recompute", "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout) == {"clinics": {"test-clinic": {"phq9": {"n": 1, "evaluable": 1}}}}
    snap = CohortSnapshot.objects.get()
    assert snap.figures["response"]["n"] == 1 and "patients" not in snap.figures
    out = io.StringIO()
    call_command("outcomes_recompute", "--clinic", "test-clinic", stdout=out)
    assert out.getvalue() == "test-clinic phq9: 1 enrolled, 1 evaluable\n"
    assert CohortSnapshot.objects.count() == 2
    assert AuditEvent.objects.filter(action="outcomes.recompute").count() == 2
    assert runner.invoke(app, ["outcomes-recompute", "--clinic", "nope"]).exit_code == 2
