"""The clinic outcomes page: who may see it, the denominators, the rates, filters, safety, audit, no identifiers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from ketaclinic.web.audit.models import AuditEvent
from ketaclinic.web.clinics.models import Clinic, Site
from ketaclinic.web.outcomes.synthetic import CourseSpec, make_course
from ketaclinic.web.patients.models import Patient

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
URL = "/outcomes/"


def _patient(clinic: Clinic, site: Site, n: int) -> Patient:
    return Patient.objects.create(
        clinic=clinic,
        home_site=site,
        mrn=f"MRN-{clinic.slug}-{n}",
        given_name="Quinn",
        family_name=f"Zebedee{n}",
        birth_date=dt.date(1980, 1, 1),
        sex_at_birth="female",
    )


@pytest.fixture
def cohort(clinic: Clinic, site: Site, other_clinic: Clinic, prescriber: Any) -> dict[str, Any]:
    clinic.is_synthetic = True
    clinic.save()
    other_clinic.is_synthetic = True
    other_clinic.save()
    north = Site.objects.create(clinic=clinic, name="North", jurisdiction="US-CA")
    specs = {
        # responds at day 7 (20 → 8), remits at day 28; nausea and a blood-pressure alert in its session
        "c1": CourseSpec(
            T0, [(-1, 20), (7, 8), (28, 4)], site=site, side_effects=["nausea_vomiting"], alerts=["sbp_high"]
        ),
        # no response; dose stopped early (20 of 35 mg); dissociation needing an intervention
        "c2": CourseSpec(
            T0 + dt.timedelta(days=3),
            [(-2, 18), (14, 15)],
            site=site,
            given_mg=Decimal("20"),
            side_effects=["dissociation"],
            interventions=1,
        ),
        "c3": CourseSpec(None, [(0, 19)], site=site, started_at=T0),  # not yet dosed
        # lost to follow-up; dissociation without an intervention does not count
        "c4": CourseSpec(T0, [(-1, 22)], site=site, side_effects=["dissociation"]),
        "c5": CourseSpec(T0, [(-20, 20), (7, 5)], site=site),  # baseline too old
        # esketamine at the North site: responds on day 3
        "c6": CourseSpec(
            T0 + dt.timedelta(days=10),
            [(-1, 20), (3, 10)],
            site=north,
            protocol_id="esketamine-trd",
            route="intranasal",
            ordered_mg=Decimal("56"),
        ),
    }
    courses = {
        key: make_course(clinic=clinic, patient=_patient(clinic, site, i), actor=prescriber, spec=spec)
        for i, (key, spec) in enumerate(specs.items())
    }
    other_site = Site.objects.create(clinic=other_clinic, name="Elsewhere", jurisdiction="US-CA")
    other_prescriber = type(prescriber).objects.create(username="other-presc")
    make_course(
        clinic=other_clinic,
        patient=_patient(other_clinic, other_site, 99),
        actor=other_prescriber,
        spec=CourseSpec(T0, [(-1, 20), (7, 2)], site=other_site),
    )
    return {"courses": courses, "north": north}


def count(html: str, key: str) -> int:
    m = re.search(rf'data-count="{key}">(?:<strong>)?(\d+)<', html)
    assert m, key
    return int(m.group(1))


def event_row(html: str, event: str) -> list[str]:
    m = re.search(rf'<tr data-event="{event}">(.*?)</tr>', html, re.S)
    assert m, event
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", m.group(1), re.S)
    ]


def test_prescriber_sees_denominators_rates_plots_and_safety(
    cohort: dict[str, Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    r = client_as(prescriber).get(URL)
    assert r.status_code == 200
    html = r.content.decode()
    assert [count(html, k) for k in ("enrolled", "not-dosed", "no-baseline", "lost", "evaluable")] == [
        6,
        1,
        1,
        1,
        3,
    ]
    # c1 and c6 respond (2 of 3); c1 remits; only c1 and c6 respond at the latest score.
    assert "Response at any score</th><td>2 of 3</td>" in html
    assert "<td>66.7 %</td><td>20.8 % to 93.9 %</td>" in html
    assert "Remission at any score</th><td>1 of 3</td>" in html
    assert "Median time to first response" in html
    # KM: c6 at 3 d (S = 2/3), c1 at 7 d (S = 1/3): median 7.0 days
    assert "7.0 days after the first dose" in html
    for chart in ("weekly", "waterfall", "km", "durability"):
        assert f'data-chart="{chart}"' in html
    # Five dosed sessions (one each for c1, c2, c4, c5, c6).
    assert "5 dosing sessions in this cohort" in html
    assert event_row(html, "nausea") == ["Nausea or vomiting", "1", "20.0", "3.6 to 62.4"]
    assert event_row(html, "hypertension")[1:3] == ["1", "20.0"]
    assert event_row(html, "dissociation_intervention")[1:3] == ["1", "20.0"]
    assert event_row(html, "early_termination")[1:3] == ["1", "20.0"]
    assert event_row(html, "sedation")[1:3] == ["0", "0.0"]


def test_filters_by_route_site_protocol_and_period(
    cohort: dict[str, Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    c = client_as(prescriber)
    html = c.get(URL, {"route": "intranasal"}).content.decode()
    assert (count(html, "enrolled"), count(html, "evaluable")) == (1, 1)
    html = c.get(URL, {"site": str(cohort["north"].pk)}).content.decode()
    assert count(html, "enrolled") == 1
    html = c.get(URL, {"protocol": "iv-racemic-depression"}).content.decode()
    assert count(html, "enrolled") == 5
    # c6 started a day before its first dose, on 11 March; the others by 2 March
    html = c.get(URL, {"since": "2026-03-10", "until": "2026-03-31"}).content.decode()
    assert count(html, "enrolled") == 1
    html = c.get(URL, {"instrument": "gad7"}).content.decode()
    assert (count(html, "enrolled"), count(html, "evaluable")) == (6, 0)
    assert "No evaluable patients" in html


def test_researcher_sees_aggregates_only_and_the_read_is_audited(
    cohort: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    researcher = make_user("researcher", username="researcher")
    c = client_as(researcher)
    before = AuditEvent.objects.filter(action="outcomes.view").count()
    r = c.get(URL, {"route": "iv"})
    assert r.status_code == 200
    html = r.content.decode()
    # A route filter leaves out the course not yet dosed (no route yet): 4 courses, suppressed below 11.
    assert 'data-count="enrolled">fewer than 11<' in html
    assert "data-suppression" in html and "Some figures below are withheld." in html
    for identifier in ("Zebedee", "Quinn", "MRN-"):
        assert identifier not in html
    ev = AuditEvent.objects.filter(action="outcomes.view").latest("pk")
    assert AuditEvent.objects.filter(action="outcomes.view").count() == before + 1
    assert ev.actor == researcher
    assert ev.detail["route"] == "iv" and ev.detail["enrolled"] == 4 and ev.detail["evaluable"] == 2
    assert ev.patient_id is None
    # No chart access for a researcher.
    assert "Zebedee0" not in c.get("/patients/", {"q": "Zebedee"}).content.decode()
    assert c.get(f"/patients/{cohort['courses']['c1'].patient_id}/").status_code in (403, 404)


@pytest.mark.parametrize("role", ["auditor", "clinic_admin"])
def test_auditor_and_admin_may_see_the_page(
    role: str, cohort: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    r = client_as(make_user(role)).get(URL)
    assert r.status_code == 200
    assert count(r.content.decode(), "enrolled") == 6


@pytest.mark.parametrize("role", ["nurse", "front_desk", "custodian"])
def test_other_roles_are_refused_and_nothing_is_audited(
    role: str, cohort: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    before = AuditEvent.objects.exclude(action="access.denied").count()
    r = client_as(make_user(role)).get(URL)
    assert r.status_code == 403
    assert "enrolled" not in r.content.decode()
    # No read is audited; the refused attempt itself is (access.denied).
    assert AuditEvent.objects.exclude(action="access.denied").count() == before
    assert AuditEvent.objects.filter(action="access.denied", request_path=URL).count() == 1


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"instrument": "cssrs-screener"}, "instrument", "is not one of the choices offered"),
        ({"route": "rectal"}, "route", "is not one of the choices offered"),
        ({"site": "999999"}, "site", "is not one of the choices offered"),
        ({"site": "abc"}, "site", "is not one of the choices offered"),
        ({"since": "2026-13-01"}, "since", "must be a date in YYYY-MM-DD format"),
        (
            {"since": "2026-03-10", "until": "2026-03-01"},
            "until",
            "must be on or after the start of the period",
        ),
    ],
)
def test_bad_filters_name_the_field_and_show_no_figures(
    params: dict[str, str],
    field: str,
    reason: str,
    cohort: dict[str, Any],
    prescriber: Any,
    client_as: Callable[[Any], Client],
) -> None:
    before = AuditEvent.objects.count()
    r = client_as(prescriber).get(URL, params)
    assert r.status_code == 400
    html = r.content.decode()
    assert (
        f'<p class="field__error" id="err_{field}"><span class="visually-hidden">Error:</span> {reason}</p>'
        in html
    )
    assert 'data-count="enrolled"' not in html
    assert AuditEvent.objects.count() == before


def test_other_clinics_site_cannot_be_chosen(
    cohort: dict[str, Any], other_clinic: Clinic, prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    other_site = Site.objects.get(clinic=other_clinic)
    r = client_as(prescriber).get(URL, {"site": str(other_site.pk)})
    assert r.status_code == 400
    assert "Elsewhere" not in r.content.decode()


def test_nav_shows_outcomes_only_to_roles_that_may_see_it(
    cohort: dict[str, Any], prescriber: Any, nurse: Any, client_as: Callable[[Any], Client]
) -> None:
    assert 'href="/outcomes/"' in client_as(prescriber).get("/patients/").content.decode()
    assert 'href="/outcomes/"' not in client_as(nurse).get("/patients/").content.decode()


def test_home_takes_a_researcher_to_outcomes_and_others_to_their_home_page(
    make_user: Callable[..., Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    r = client_as(make_user("researcher")).get("/")
    assert (r.status_code, r["Location"]) == (302, "/outcomes/")
    r = client_as(prescriber).get("/")
    assert r.status_code == 200 and b'id="section-alerts"' in r.content


def test_small_counts_follow_the_clinic_threshold_for_researchers_only(
    cohort: dict[str, Any], make_user: Callable[..., Any], client_as: Callable[[Any], Client]
) -> None:
    admin = client_as(make_user("clinic_admin", username="admin1"))
    clinic = Clinic.objects.get(pk=cohort["courses"]["c1"].clinic_id)
    before = AuditEvent.objects.count()
    bad = admin.post("/clinic/settings/", {"form": "small_cells", "small_cell_threshold": "1"})
    assert bad.status_code == 400 and "must be between 2 and 100" in bad.content.decode()
    clinic.refresh_from_db()
    assert clinic.small_cell_threshold == 11 and AuditEvent.objects.count() == before
    ok = admin.post("/clinic/settings/", {"form": "small_cells", "small_cell_threshold": "3"})
    assert ok.status_code == 302
    clinic.refresh_from_db()
    assert clinic.small_cell_threshold == 3
    ev = AuditEvent.objects.filter(action="clinic.small_cell_threshold").latest("pk")
    assert ev.detail == {"small_cell_threshold": [11, 3]}

    html = (
        client_as(make_user("researcher", username="researcher")).get(URL, {"route": "iv"}).content.decode()
    )
    assert count(html, "enrolled") == 4
    assert 'data-count="evaluable"><strong>fewer than 3</strong><' in html
    assert html.count("withheld (small numbers)") >= 3  # rates, intervals, median
    assert 'aria-label="Change from baseline"' not in html or "Not drawn: it would show fewer than 3" in html
    # Staff who may open charts see every count.
    staff = (
        client_as(make_user("prescriber", username="prescriber9")).get(URL, {"route": "iv"}).content.decode()
    )
    assert count(staff, "evaluable") == 2 and "data-suppression" not in staff


def test_published_figures_are_drawn_as_labelled_reference_lines_not_claims(
    cohort: dict[str, Any], prescriber: Any, client_as: Callable[[Any], Client]
) -> None:
    c = client_as(prescriber)
    html = c.get(URL).content.decode()
    assert "A reference, not a claim." in html
    assert 'data-chart="reference"' in html and html.count('class="reference"') == 3
    assert "Esketamine trials, day 28: 58.7 % (reference)" in html
    assert "IV ketamine trials, day 7: 39.8 % (reference)" in html
    assert 'data-reference="iv-ketamine-meta-day7"' in html and "Neuropsychiatr Dis Treat" in html
    assert "and 39.8 % at day 7 (368 patients).</li>" in html  # the checked-source marker is not shown
    iv = c.get(URL, {"route": "iv"}).content.decode()
    assert iv.count('class="reference"') == 1 and "Esketamine trials" not in iv
