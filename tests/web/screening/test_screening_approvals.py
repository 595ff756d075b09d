"""Approvals data (UK, AU, US) and the off-label notice on consent in each country; malformed files fail loudly."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ketaclinic.web.clinics.models import Site
from ketaclinic.web.lib.errors import ValidationFailed
from ketaclinic.web.screening import actions
from ketaclinic.web.screening.models import Consent


def test_every_country_has_both_products_with_sources() -> None:
    data = actions.approvals()
    for product in ("esketamine_nasal", "ketamine_racemic"):
        assert sorted(data["products"][product]["approvals"]) == ["AU", "UK", "US"]
    assert data["products"]["esketamine_nasal"]["approvals"]["UK"]["indications"] == ["trd"]
    assert data["products"]["esketamine_nasal"]["approvals"]["AU"]["indications"] == ["trd"]
    for country in ("UK", "AU"):
        assert data["products"]["ketamine_racemic"]["approvals"][country]["indications"] == ["anaesthesia"]
        assert "[R]" in data["products"]["esketamine_nasal"]["approvals"][country]["source"]


@pytest.mark.parametrize(
    ("country", "product", "indication", "off_label"),
    [
        ("UK", "esketamine_nasal", "trd", False),
        ("AU", "esketamine_nasal", "trd", False),
        ("UK", "esketamine_nasal", "mdd_acute_si", True),  # not listed until verified
        ("UK", "ketamine_racemic", "trd", True),
        ("AU", "ketamine_racemic", "trd", True),
        ("US", "ketamine_racemic", "ptsd", True),
        ("US", "esketamine_nasal", "mdd_acute_si", False),
    ],
)
def test_off_label_notice(country: str, product: str, indication: str, off_label: bool) -> None:
    flag, notice = actions.off_label_notice(indication=indication, product=product, country=country)
    assert flag is off_label
    if off_label:
        assert notice.endswith(actions.approvals()["products"][product]["approvals"][country]["source"])
        assert "this use is off-label" in notice
    else:
        assert notice == ""


@pytest.mark.parametrize(("jurisdiction", "country"), [("UK", "UK"), ("AU-VIC", "AU")])
def test_consent_at_uk_and_au_sites(
    prescriber: Any, patient: Any, clinic: Any, jurisdiction: str, country: str
) -> None:
    site = Site.objects.create(clinic=clinic, name=f"Site {country}", jurisdiction=jurisdiction)
    patient.home_site = site
    patient.save(update_fields=["home_site"])
    c = actions.do_record_consent(
        actor=prescriber, patient_id=patient.pk, indication="trd", product="esketamine_nasal"
    )
    assert (c.off_label, c.notice, c.jurisdiction) == (False, "", jurisdiction)
    before = Consent.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        actions.do_record_consent(
            actor=prescriber, patient_id=patient.pk, indication="trd", product="ketamine_racemic"
        )
    assert list(exc.value.fields) == ["patient_acknowledged_off_label"]
    assert (
        f"not approved in {country} for treatment-resistant depression"
        in exc.value.fields["patient_acknowledged_off_label"][0]
    )
    assert Consent.objects.count() == before


def _broken(path: list[str], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(actions.approvals())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["products", "esketamine_nasal", "approvals", "UK", "source"],
            "",
            "products.esketamine_nasal.approvals.UK: source required",
        ),
        (
            ["products", "esketamine_nasal", "approvals", "AU", "indications"],
            ["trd", "depression"],
            "products.esketamine_nasal.approvals.AU: unknown indications ['depression']",
        ),
        (
            ["products", "ketamine_racemic", "approvals", "FR"],
            {"indications": [], "source": "x"},
            "products.ketamine_racemic.approvals.FR: country must be US, UK or AU",
        ),
        (["version"], "", "version and products required"),
    ],
)
def test_malformed_approvals_fail_loudly(path: list[str], value: Any, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        actions.validate_approvals(_broken(path, value))
    assert str(exc.value).endswith(message)
