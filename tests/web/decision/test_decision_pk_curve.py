"""The predicted-concentration fragment for a proposed order (decision support on the order screen)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic
from ketaclinic.web.patients.models import Patient, WeightMeasurement

pytestmark = pytest.mark.django_db


def _url(patient: Patient) -> str:
    return reverse("decision:pk_curve", kwargs={"patient_id": patient.pk})


def _peak(html: str) -> int:
    m = re.search(r"\(peak (\d+) ng/mL\)", html)
    assert m is not None
    return int(m.group(1))


def test_url_is_stable(patient: Patient) -> None:
    assert _url(patient) == f"/decision/patients/{patient.pk}/pk-curve/"


def test_intranasal_esketamine_curve_with_band(
    client_as: Callable[[Any], Client], prescriber: Any, patient: Patient
) -> None:
    before = AuditEvent.objects.filter(action="decision.pk_curve.view").count()
    r = client_as(prescriber).get(
        _url(patient), {"drug": "esketamine", "route": "intranasal", "amount_mg": "84"}
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count("<svg") == 1
    assert 'class="kc-pk-band"' in html
    assert "Dissociative range 100-250 ng/mL" in html
    assert "Decision support — not a dosing instruction" in html
    assert "Perez-Ruixo 2021 (esketamine and noresketamine)" in html
    assert _peak(html) == 101  # typical Cmax of 84 mg (Perez-Ruixo Table 4: 101.0)
    assert "Typical patient of 70.0 kg" in html
    assert AuditEvent.objects.filter(action="decision.pk_curve.view").count() == before + 1


def test_ketamine_infusion_uses_clements_without_a_band(
    client_as: Callable[[Any], Client], prescriber: Any, patient: Patient
) -> None:
    r = client_as(prescriber).get(
        _url(patient), {"drug": "ketamine", "route": "iv", "amount_mg": "35", "duration_min": "40"}
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert 'class="kc-pk-band"' not in html
    assert "no published between-patient variability" in html
    assert "Clements 250" in html
    assert _peak(html) == 177  # 0.5 mg/kg over 40 min at 70 kg


def test_course_so_far_adds_to_the_prediction(
    client_as: Callable[[Any], Client], prescriber: Any, patient: Patient
) -> None:
    c = client_as(prescriber)
    q = {"drug": "esketamine", "route": "intranasal", "amount_mg": "56"}
    alone = _peak(c.get(_url(patient), q).content.decode())
    with_prior = _peak(c.get(_url(patient), {**q, "prior": "intranasal:56:90"}).content.decode())
    assert with_prior > alone


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"drug": "esketamine", "route": "intranasal", "amount_mg": "30"}, "amount_mg"),
        ({"drug": "esketamine", "route": "intranasal", "amount_mg": "abc"}, "amount_mg"),
        ({"drug": "esketamine", "route": "intranasal"}, "amount_mg"),
        ({"drug": "ketamine", "route": "intranasal", "amount_mg": "50"}, "route"),
        ({"drug": "propofol", "route": "iv", "amount_mg": "50"}, "drug"),
        ({"drug": "ketamine", "route": "iv", "amount_mg": "35", "model": "nope"}, "model"),
        ({"drug": "ketamine", "route": "iv", "amount_mg": "35", "horizon_min": "5000"}, "horizon_min"),
        (
            {"drug": "esketamine", "route": "intranasal", "amount_mg": "56", "prior": "intranasal:56"},
            "prior[0]",
        ),
        (
            {"drug": "esketamine", "route": "intranasal", "amount_mg": "56", "prior": "intranasal:30:60"},
            "prior[0]",
        ),
    ],
)
def test_bad_input_names_the_field(
    client_as: Callable[[Any], Client], prescriber: Any, patient: Patient, query: dict[str, str], field: str
) -> None:
    r = client_as(prescriber).get(_url(patient), query)
    assert r.status_code == 400
    html = r.content.decode()
    assert f'data-field="{field}"' in html
    assert "<svg" not in html


def test_patient_without_weight(
    client_as: Callable[[Any], Client], prescriber: Any, patient: Patient
) -> None:
    WeightMeasurement.objects.filter(patient=patient).delete()
    r = client_as(prescriber).get(
        _url(patient), {"drug": "esketamine", "route": "intranasal", "amount_mg": "56"}
    )
    assert r.status_code == 400
    assert 'data-field="weight_kg"' in r.content.decode()


def test_other_clinics_patient_is_not_found(
    client_as: Callable[[Any], Client], make_user: Callable[..., Any], other_clinic: Clinic, patient: Patient
) -> None:
    outsider = make_user("prescriber", clinic=other_clinic, username="outsider")
    before = AuditEvent.objects.count()
    r = client_as(outsider).get(
        _url(patient), {"drug": "esketamine", "route": "intranasal", "amount_mg": "56"}
    )
    assert r.status_code == 404
    assert AuditEvent.objects.filter(action="decision.pk_curve.view").count() == 0
    assert AuditEvent.objects.count() >= before


def test_sign_in_required(client: Client, patient: Patient) -> None:
    r = client.get(_url(patient), {"drug": "esketamine", "route": "intranasal", "amount_mg": "56"})
    assert r.status_code == 302
