"""Every page shows times in the active clinic's zone (its sites' setting), named on the run sheet and board."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ketaclinic.web.accounts.models import Membership
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.lib.middleware import TZ_KEY
from ketaclinic.web.patients.models import WeightMeasurement

AT = dt.datetime(2026, 1, 15, 14, 5, tzinfo=dt.UTC)


def _weigh(patient: Any) -> None:
    WeightMeasurement.objects.create(patient=patient, weight_kg=Decimal("71.5"), measured_at=AT)


def test_chart_shows_times_in_the_sites_zone(nurse: Any, patient: Any, site: Site, client_as: Any) -> None:
    Site.objects.filter(pk=site.pk).update(timezone="America/Los_Angeles")
    _weigh(patient)
    body = client_as(nurse).get(f"/patients/{patient.pk}/").content.decode()
    assert "2026-01-15 06:05" in body  # 14:05 UTC is 06:05 in Los Angeles (PST, UTC-8)
    assert "2026-01-15 14:05" not in body


def test_a_utc_site_keeps_utc(nurse: Any, patient: Any, client_as: Any) -> None:
    _weigh(patient)
    body = client_as(nurse).get(f"/patients/{patient.pk}/").content.decode()
    assert "2026-01-15 14:05" in body


def test_a_clinic_without_sites_uses_the_server_zone(
    make_user: Any, other_clinic: Any, client_as: Any, settings: Any
) -> None:
    from ketaclinic.web.lib.timezones import zone_name_of_clinic

    settings.TIME_ZONE = "Europe/London"
    assert zone_name_of_clinic(other_clinic) == "Europe/London"


def test_switching_clinic_switches_zone_at_once(
    nurse: Any, patient: Any, site: Site, other_clinic: Any, client_as: Any
) -> None:
    Site.objects.create(clinic=other_clinic, name="Harbour", jurisdiction="UK", timezone="Asia/Tokyo")
    Membership.objects.create(user=nurse, clinic=other_clinic, role="nurse")
    Site.objects.filter(pk=site.pk).update(timezone="America/Los_Angeles")
    c = client_as(nurse)
    c.post("/accounts/switch-clinic/", {"clinic": other_clinic.pk})
    c.get("/patients/")
    assert c.session[TZ_KEY][:2] == [other_clinic.pk, "Asia/Tokyo"]
    c.post("/accounts/switch-clinic/", {"clinic": patient.clinic_id})
    c.get("/patients/")
    assert c.session[TZ_KEY][:2] == [patient.clinic_id, "America/Los_Angeles"]


def test_an_unknown_zone_name_falls_back_to_the_server_zone(settings: Any) -> None:
    from ketaclinic.web.lib.timezones import zone_or_default

    settings.TIME_ZONE = "UTC"
    assert zone_or_default("Mars/Olympus").key == "UTC"
    assert zone_or_default("").key == "UTC"


def test_the_patients_remote_form_shows_the_home_sites_zone(
    prescriber: Any, patient: Any, site: Site
) -> None:
    from django.test import Client

    from ketaclinic.web.assessments.actions import do_create_remote_link

    Site.objects.filter(pk=site.pk).update(timezone="America/Los_Angeles")
    link, url = do_create_remote_link(actor=prescriber, patient_id=patient.pk, instrument_id="phq9")
    local = link.expires_at.astimezone(ZoneInfo("America/Los_Angeles"))
    body = Client().get(url).content.decode()
    assert f"expires {local.day} {local:%B %Y, %H:%M %Z}." in body
