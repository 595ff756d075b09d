"""The run sheet as a flowsheet: vitals at every stage, the dose form's figures, the withdraw form gone once
stock is held, the time-aligned grid with out-of-threshold values marked, the vitals chart, and discharge
that names the escort, keeps what was ticked when refused and lists what is missing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from tests.web.pagetext import attrs_of, has_id, text_of
from tests.web.treatment.treatment_helpers import session_for, stock_at, to_pre_dose
from tests.web.words import visible_text

from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment.models import VitalSign
from ketaclinic.web.treatment.stock import holdings

pytestmark = pytest.mark.django_db


def _row(html: bytes, key: str) -> str:
    m = re.search(rf'<tr data-row="{key}">(.*?)</tr>', html.decode(), flags=re.S)
    assert m is not None, key
    return visible_text(m.group(1))


def _dosing(prescriber: Any, nurse: Any, patient: Any, t0: dt.datetime) -> Any:
    s = to_pre_dose(nurse, session_for(prescriber, nurse, patient))
    (lot,) = [lot for lot, q in holdings(s) if q > 0]
    A.do_record_administration(
        actor=nurse, session_id=s.pk, dose_mg="35", lot_id=lot.pk, administered_at=t0, duration_min="40"
    )
    s.refresh_from_db()
    return s


def test_vitals_form_between_pre_dose_checks_and_first_dose_and_withdraw_form_goes(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    c = client_as(nurse)
    s = to_pre_dose(nurse, session_for(prescriber, nurse, patient), withdraw=False)
    stock_at(s.site, "ketamine")  # the site has stock in the ledger; the session holds none yet
    html = c.get(f"/treatment/sessions/{s.pk}/").content
    assert has_id(html, "form-vitals") and has_id(html, "form-withdraw")
    before = VitalSign.objects.filter(session=s).count()
    c.post(f"/treatment/sessions/{s.pk}/vitals", {"systolic": "124", "diastolic": "82", "heart_rate": "76"})
    assert VitalSign.objects.filter(session=s).count() == before + 1
    s2 = to_pre_dose(nurse, session_for(prescriber, nurse, _other_patient(patient)))
    html = c.get(f"/treatment/sessions/{s2.pk}/").content
    assert not has_id(html, "form-withdraw") and has_id(html, "session-stock")


def _other_patient(patient: Any) -> Any:
    from ketaclinic.web.patients.models import Patient, WeightMeasurement

    p = Patient.objects.create(
        clinic=patient.clinic, home_site=patient.home_site, mrn="MRN-2", given_name="Sam",
        family_name="Lee", birth_date=dt.date(1980, 1, 1), sex_at_birth="male",
    )  # fmt: skip
    WeightMeasurement.objects.create(patient=p, weight_kg="80.0", measured_at=timezone.now())
    return p


def test_dose_form_shows_mg_per_kg_and_volume_from_the_lot(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    s = to_pre_dose(nurse, session_for(prescriber, nurse, patient))
    html = client_as(nurse).get(f"/treatment/sessions/{s.pk}/").content
    # 0.5 mg/kg x 70 kg = 35 mg; the lot is 50 mg/mL: draw up 0.7 mL.
    assert text_of(html, "dose-calc") == "35 mg = 0.5 mg/kg of 70 kg · draw up 0.7 mL"
    assert attrs_of(html, "form-dose")["data-weight-kg"] == "70"
    assert 'data-mg-per-unit="50" data-unit="mL"' in html.decode()


def test_grid_marks_values_outside_thresholds_and_chart_marks_the_dose(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    t0 = timezone.now() - dt.timedelta(minutes=20)
    s = _dosing(prescriber, nurse, patient, t0)
    A.do_record_vitals(
        actor=nurse,
        session_id=s.pk,
        values={"systolic": 185, "diastolic": 95, "heart_rate": 72, "spo2": 93, "respiratory_rate": 14},
        taken_at=t0 + dt.timedelta(minutes=10),
    )
    A.do_record_scale(
        actor=nurse, session_id=s.pk, kind="moaas", score="3", taken_at=t0 + dt.timedelta(minutes=10)
    )
    A.do_record_scale(
        actor=nurse, session_id=s.pk, kind="cadss", score="12", taken_at=t0 + dt.timedelta(minutes=10)
    )
    A.do_record_side_effect(
        actor=nurse,
        session_id=s.pk,
        code="nausea_vomiting",
        severity="mild",
        onset_at=t0 + dt.timedelta(minutes=10),
    )
    html = client_as(nurse).get(f"/treatment/sessions/{s.pk}/").content
    # Two columns in time order: +10 min after the start, then the baseline the helper typed in a minute ago
    # with its time of taking (the dose was backdated 20 min).
    assert _row(html, "bp") == "Blood pressure (mmHg) 185/95 !! 120/80"
    assert _row(html, "heart_rate") == "Heart rate (beats a minute) 72 70"
    assert _row(html, "spo2") == "Oxygen saturation (%) 93 ! 98"
    assert _row(html, "respiratory_rate") == "Breathing rate (breaths a minute) 14 14"
    assert _row(html, "moaas") == "Sedation, MOAA/S (5 alert, 0 unresponsive) 3 !"
    assert _row(html, "cadss") == "Dissociation, CADSS (0 to 92) 12"
    assert _row(html, "side_effects") == "Side effects Nausea / vomiting (mild)"
    page = html.decode()
    assert page.count('data-level="critical"') == 1 and page.count('data-level="warn"') == 2
    # The critical BP paused the infusion: the chart shows the dose start and the pause.
    for mark in (
        'data-mark="dose-start"',
        'data-mark="pause"',
        'data-series="systolic"',
        'data-series="spo2"',
    ):
        assert mark in page, mark
    assert text_of(html, "vitals-chart-legend") == (
        "▲ Systolic ▼ Diastolic ● Heart rate ■ Oxygen saturation ◆ Breathing rate"
    )
    # The fragment the page fetches on a live event is the same flowsheet.
    frag = client_as(nurse).get(f"/treatment/sessions/{s.pk}/flowsheet/")
    assert frag.status_code == 200 and _row(frag.content, "bp") == _row(html, "bp")


def test_discharge_names_the_escort_keeps_ticks_and_lists_what_is_missing(
    cleared: None, prescriber: Any, nurse: Any, patient: Any, client_as: Any
) -> None:
    t0 = timezone.now() - dt.timedelta(minutes=45)
    s = _dosing(prescriber, nurse, patient, t0)
    A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=t0 + dt.timedelta(minutes=40))
    c = client_as(nurse)
    html = c.get(f"/treatment/sessions/{s.pk}/").content
    assert text_of(html, "escort-name") == "Sam"
    missing = re.findall(r'<li data-criterion="(\w+)"', html.decode())
    r = c.post(f"/treatment/sessions/{s.pk}/ready", {"escort_present": "on"})
    s.refresh_from_db()
    assert s.status == "monitoring" and s.escort_present is False
    html = c.get(r["Location"]).content
    assert 'name="escort_present" checked' in html.decode()  # the tick is kept
    assert re.findall(r'<li data-criterion="(\w+)"', html.decode()) == missing
    assert text_of(html, "messages").startswith("discharge criteria not met: ")
    # Read once: the next visit shows the form as stored.
    assert 'name="escort_present" checked' not in c.get(f"/treatment/sessions/{s.pk}/").content.decode()
