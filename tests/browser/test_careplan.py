"""Care plan, therapy and telehealth end to end on the demo: a prescriber schedules telehealth visits under the
jurisdiction rules, the therapist reads her private psychotherapy note that a prescriber cannot, the care plan
shows goals and exports a FHIR CarePlan, and a patient answers the session page on their personal link."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

FIND = """
import json
from ketaclinic.web.telehealth.models import TelehealthConsent
from ketaclinic.web.therapy.models import PsychotherapyNote
from ketaclinic.web.careplan.models import CarePlan
c = TelehealthConsent.objects.filter(patient__clinic__slug="riverside-demo").order_by("pk").first()
n = PsychotherapyNote.objects.select_related("patient").get()
plan = CarePlan.objects.filter(clinic__slug="riverside-demo").order_by("pk").first()
print(json.dumps({"tele": c.patient_id, "note_patient": n.patient_id, "note": n.pk, "plan_patient": plan.patient_id, "plan": plan.pk}))
"""

LINK = """
import datetime as dt
from django.utils import timezone
from ketaclinic.web.accounts.models import User
from ketaclinic.web.patientprep.actions import do_create_session_link
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse
course = TreatmentCourse.objects.filter(clinic__slug="riverside-demo", status="active", protocol_id="esketamine-trd").order_by("pk").first()
course = course or TreatmentCourse.objects.filter(clinic__slug="riverside-demo", status="active").order_by("pk").first()
s = DosingSession.objects.create(clinic=course.clinic, site=course.clinic.sites.order_by("pk").first(), patient=course.patient,
    course=course, scheduled_for=timezone.now() + dt.timedelta(days=3))
_link, url = do_create_session_link(actor=User.objects.get(username="nurse.kim"), patient_id=course.patient_id, dosing_session_id=s.pk)
print(url)
"""


def test_telehealth_visits_follow_the_jurisdiction_rules(page: Any, live_url: str, live_home: str) -> None:
    ids = json.loads(run_in_server_env(live_home, FIND))
    login(page, live_url, "dr.patel")
    page.goto(f"{live_url}/telehealth/patients/{ids['tele']}/")
    expect(page.locator("#consent-status")).to_contain_text("On file")
    form = page.locator("#form-visit")
    form.get_by_label("How").select_option(label="Video")
    form.get_by_label("What the visit is for").select_option(label="Dosing session")
    form.get_by_label("Medicine").select_option(label="Esketamine")
    form.get_by_label("Video link (video visits)").fill("https://video.example.invalid/room/99")
    form.get_by_role("button", name="Schedule visit").click()
    expect(page.locator("#visit-errors")).to_contain_text(
        "Esketamine (Spravato) is only given in a REMS-certified healthcare setting"
    )
    expect(page.locator("#visit-errors")).to_contain_text("How")

    form = page.locator("#form-visit")
    form.get_by_label("What the visit is for").select_option(label="Follow-up")
    form.get_by_label("Medicine").select_option(label="None")
    form.get_by_label("Video link (video visits)").fill("https://video.example.invalid/room/99")
    form.get_by_role("button", name="Schedule visit").click()
    expect(page.locator("ul.messages")).to_contain_text("Visit scheduled.")
    row = page.locator("#visits tbody tr").filter(
        has=page.locator('a[href="https://video.example.invalid/room/99"]')
    )
    expect(row.get_by_role("link", name="Join video")).to_be_visible()
    expect(row).to_contain_text("Allowed")
    expect(row).to_contain_text("Follow-up")


def test_psychotherapy_note_is_private_to_its_author(
    browser: Any, page: Any, live_url: str, live_home: str
) -> None:
    ids = json.loads(run_in_server_env(live_home, FIND))
    login(page, live_url, "therapist.ng")
    page.goto(f"{live_url}/therapy/patients/{ids['note_patient']}/")
    expect(page.locator("#therapy-sessions")).to_contain_text("Integration")
    page.locator("#my-notes").get_by_role("link").first.click()
    expect(page.locator("#note-text")).to_contain_text("visible only to the therapist who wrote it")

    other = browser.new_context()
    try:
        p2 = other.new_page()
        login(p2, live_url, "dr.okafor")
        p2.goto(f"{live_url}/therapy/patients/{ids['note_patient']}/")
        expect(p2.locator(".private-note-marker").first).to_contain_text("A psychotherapy note is kept apart")
        expect(p2.locator("#therapy-tab")).not_to_contain_text("visible only to the therapist who wrote it")
        assert p2.locator("#my-notes").count() == 0
        res = p2.goto(f"{live_url}/therapy/notes/{ids['note']}/")
        assert res is not None and res.status == 404
    finally:
        other.close()


def test_care_plan_goals_export_and_patient_session_page(
    browser: Any, page: Any, live_url: str, live_home: str
) -> None:
    ids = json.loads(run_in_server_env(live_home, FIND))
    login(page, live_url, "dr.patel")
    page.goto(f"{live_url}/careplan/patients/{ids['plan_patient']}/")
    expect(page.locator("table.goals").first).to_contain_text("Remission of depression (PHQ-9 below 5)")
    expect(page.locator("table.activities").first).to_contain_text("Urinalysis for blood")
    exported = page.request.get(
        f"{live_url}/careplan/patients/{ids['plan_patient']}/plans/{ids['plan']}/careplan.json"
    )
    body = exported.json()
    assert exported.status == 200 and body["resourceType"] == "CarePlan"
    assert [g["resourceType"] for g in body["contained"]] == ["Goal", "Goal"]

    url = run_in_server_env(live_home, LINK).strip()
    patient_ctx = browser.new_context()
    try:
        pp = patient_ctx.new_page()
        pp.goto(live_url + url)
        expect(pp.locator("#preparation")).to_contain_text(
            "Do not drive, cycle or operate machinery until the next day"
        )
        expect(pp.locator("#bring")).to_contain_text("A list of every medicine you take")
        pp.get_by_label("Yes, I will come").check()
        pp.get_by_role("button", name="Send").click()
        expect(pp.locator("#page-errors")).to_contain_text("Please tell us who will take you home")
        pp.get_by_label("Yes, I will come").check()
        pp.get_by_label("Who will take you home?").fill("Jamie (partner)")
        pp.get_by_role("button", name="Send").click()
        expect(pp.locator("#attendance-status")).to_contain_text("Jamie (partner) will take you home")
    finally:
        patient_ctx.close()
