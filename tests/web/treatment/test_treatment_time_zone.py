"""The sessions board and the run sheet name the site's zone beside each time (e.g. "06:05 PST")."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from tests.web.treatment.treatment_helpers import session_for

from ketaclinic.web.clinics.models import Site
from ketaclinic.web.treatment import actions as A

LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.usefixtures("cleared")
def test_run_sheet_and_board_name_the_zone(
    prescriber: Any, nurse: Any, patient: Any, site: Site, client_as: Any
) -> None:
    Site.objects.filter(pk=site.pk).update(timezone="America/Los_Angeles")
    s = session_for(prescriber, nurse, patient)
    s.site = site
    s.scheduled_for = timezone.now()
    s.save(update_fields=["site", "scheduled_for"])
    local = timezone.localtime(s.scheduled_for, timezone=LA)
    c = client_as(nurse)
    board = c.get("/treatment/").content.decode()
    assert f"{local:%Y-%m-%d %H:%M %Z}" in board
    A.do_check_in(actor=nurse, session_id=s.pk)
    checked_in = s.transitions.get(to_status="checked_in").at
    sheet = c.get(f"/treatment/sessions/{s.pk}/").content.decode()
    at = timezone.localtime(checked_in, timezone=LA)
    assert f"<li>{at:%H:%M %Z} " in sheet  # the timeline's check-in
    # The timeline reads in words; the status code stays in a tooltip.
    assert '<span title="scheduled">Scheduled</span> → <span title="checked_in">Checked in</span> by' in sheet


@pytest.mark.usefixtures("cleared")
def test_run_sheet_uses_the_sessions_site_zone_whichever_clinic_is_active(
    prescriber: Any, nurse: Any, patient: Any, site: Site, other_clinic: Any, client_as: Any
) -> None:
    from ketaclinic.web.accounts.models import Membership

    Site.objects.filter(pk=site.pk).update(timezone="America/Los_Angeles")
    Site.objects.create(clinic=other_clinic, name="Harbour", jurisdiction="UK", timezone="Asia/Tokyo")
    Membership.objects.create(user=nurse, clinic=other_clinic, role="nurse")  # "Other Clinic" sorts first
    s = session_for(prescriber, nurse, patient)
    s.site = site
    s.save(update_fields=["site"])
    A.do_check_in(actor=nurse, session_id=s.pk)
    at = timezone.localtime(s.transitions.get(to_status="checked_in").at, timezone=LA)
    c = client_as(nurse)
    c.get("/patients/")
    assert c.session["kc_tz"][:2] == [other_clinic.pk, "Asia/Tokyo"]
    sheet = c.get(f"/treatment/sessions/{s.pk}/").content.decode()
    assert f"<li>{at:%H:%M %Z} " in sheet


@pytest.mark.usefixtures("cleared")
def test_typed_run_sheet_times_are_the_sessions_site_wall_clock_whichever_clinic_is_active(
    prescriber: Any, nurse: Any, patient: Any, site: Site, other_clinic: Any, client_as: Any
) -> None:
    from ketaclinic.web.accounts.models import Membership
    from ketaclinic.web.treatment.models import VitalSign

    Site.objects.filter(pk=site.pk).update(timezone="America/Los_Angeles")
    Site.objects.create(clinic=other_clinic, name="Harbour", jurisdiction="UK", timezone="Asia/Tokyo")
    Membership.objects.create(user=nurse, clinic=other_clinic, role="nurse")  # "Other Clinic" sorts first
    s = session_for(prescriber, nurse, patient)
    s.site = site
    s.save(update_fields=["site"])
    A.do_check_in(actor=nurse, session_id=s.pk)
    c = client_as(nurse)
    c.get("/patients/")
    assert c.session["kc_tz"][:2] == [other_clinic.pk, "Asia/Tokyo"]  # the active clinic's zone is Tokyo's
    typed = (timezone.now() - dt.timedelta(minutes=30)).astimezone(LA).replace(second=0, microsecond=0)
    before = VitalSign.objects.count()
    r = c.post(
        f"/treatment/sessions/{s.pk}/vitals",
        {"taken_at": f"{typed:%Y-%m-%dT%H:%M}", "systolic": "124", "diastolic": "80", "heart_rate": "72",
         "spo2": "98", "respiratory_rate": "14"},
    )  # fmt: skip
    assert r.status_code == 302
    assert VitalSign.objects.count() == before + 1
    # Read as the Los Angeles wall clock the run sheet shows, not Tokyo's (which would be 17 h off).
    assert VitalSign.objects.latest("pk").taken_at == typed
