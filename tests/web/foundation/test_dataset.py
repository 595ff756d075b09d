"""`ketaclinic manage generate-dataset`: the synthetic clinic the benchmarks run on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from ketaclinic.web.accounts.models import Membership, User
from ketaclinic.web.assessments.models import Assessment
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.lib.dataset import DatasetError, generate_dataset
from ketaclinic.web.monitoring.models import DeviceAttachment, SensorReading
from ketaclinic.web.patients.models import Patient
from ketaclinic.web.treatment.models import DosingSession

pytestmark = pytest.mark.django_db


def test_generates_the_requested_counts_and_a_usable_manifest(tmp_path: Path, capsys: Any) -> None:
    manifest = tmp_path / "m.json"
    call_command("generate-dataset", "--patients", "12", "--observations", "1000", "--seed", "5", "--staff", "3",
                 "--heavy-scores", "40", "--live-sessions", "2", "--manifest", str(manifest), "--json")  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    clinic = Clinic.objects.get(slug="bench-5")
    assert (out["clinic_slug"], out["patients"], out["scores"], out["sensor_readings"]) == (
        "bench-5",
        12,
        560,
        440,
    )
    assert Patient.objects.filter(clinic=clinic, is_synthetic=True).count() == 12
    assert Assessment.objects.filter(clinic=clinic).count() == 560
    assert Assessment.objects.filter(patient_id=out["heavy_patient_id"]).count() >= 40
    assert SensorReading.objects.filter(session__clinic=clinic).count() == 440
    assert DosingSession.objects.filter(clinic=clinic, status="discharged").count() == 12 * 6
    live = json.loads(manifest.read_text())["live_sessions"]
    assert [s["token"][:4] for s in live] == ["kcd_", "kcd_"]
    assert (
        DeviceAttachment.objects.filter(
            session_id__in=[s["session"] for s in live], detached_at__isnull=True
        ).count()
        == 2
    )
    assert sorted(set(Membership.objects.filter(clinic=clinic).values_list("role", flat=True))) == [
        "nurse",
        "prescriber",
    ]
    assert User.objects.get(username="bench-5.user01").check_password(out["password"])
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from ketaclinic.web.patients.tabs import CHART_TABS

    c = Client()
    c.force_login(User.objects.get(username="bench-5.user01"))
    heavy = out["heavy_patient_id"]
    for tab in CHART_TABS:  # every chart tab renders the generated data
        try:
            url = reverse(tab.url_name, kwargs={"patient_id": heavy})
        except NoReverseMatch:
            continue
        assert c.get(url).status_code == 200, url
    a = Assessment.objects.filter(clinic=clinic).first()
    assert a is not None and a.fhir_response["resourceType"] == "QuestionnaireResponse"
    assert a.total == sum(x for x in a.answers if x is not None)


def test_same_seed_same_data_and_refusals_change_nothing() -> None:
    generate_dataset(patients=5, observations=100, seed=9, staff=1, heavy_scores=0, live_sessions=0)
    first = list(Assessment.objects.order_by("pk").values_list("instrument_id", "total", "patient__mrn"))
    before = (Clinic.objects.count(), Patient.objects.count(), Assessment.objects.count())
    for kwargs, field in (
        ({"patients": 5, "observations": 100, "seed": 9, "live_sessions": 0}, "clinic"),  # exists already
        ({"patients": 0, "observations": 100, "seed": 10}, "patients"),
        ({"patients": 5, "observations": -1, "seed": 10}, "observations"),
        ({"patients": 2, "observations": 10, "seed": 10, "live_sessions": 3}, "live-sessions"),
    ):
        with pytest.raises(DatasetError) as exc:
            generate_dataset(staff=1, **kwargs)  # type: ignore[arg-type]
        assert exc.value.field == field
    assert (Clinic.objects.count(), Patient.objects.count(), Assessment.objects.count()) == before
    generate_dataset(patients=5, observations=100, seed=9, staff=1, heavy_scores=0, live_sessions=0,
                     clinic_slug="again")  # fmt: skip
    again = list(Assessment.objects.filter(clinic__slug="again").order_by("pk")
                 .values_list("instrument_id", "total", "patient__mrn"))  # fmt: skip
    assert again == first
