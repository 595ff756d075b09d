"""The main pages, as the roles that use them, load under the Content-Security-Policy with no violation: no
`securitypolicyviolation` event and no "Refused to ..." console message, while their scripts still work (the
clinic switcher, the live socket, the treatment tab's concentration curve fetched by htmx with the typed dose)."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

IDS = """
import json
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.ledger.models import Case
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse
course = TreatmentCourse.objects.filter(status="active", patient__clinic__slug="riverside-demo").order_by("pk").first()
sessions = DosingSession.objects.filter(patient__clinic__slug="riverside-demo").order_by("-scheduled_for")
case = Case.objects.filter(clinic__slug="riverside-demo").order_by("pk").first()
print(json.dumps({
    "course_patient": course.patient_id,
    "course": course.pk,
    "patient": sessions[0].patient_id,
    "sessions": sorted({s.status: s.pk for s in sessions}.values()),
    "sites": [s.pk for s in Site.objects.filter(clinic__slug="riverside-demo").order_by("pk")],
    "case": case.pk if case else None,
}))
"""

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " line " + e.lineNumber);
});
"""

CHART_TABS = (
    "/patients/{p}/",
    "/assessments/patients/{p}/",
    "/screening/patients/{p}/",
    "/treatment/patients/{p}/",
)


def _pages(ids: dict[str, Any]) -> dict[str, list[str]]:
    p = ids["patient"]
    clinical = [t.format(p=p) for t in CHART_TABS]
    return {
        "dr.patel": [
            "/patients/",
            *clinical,
            "/treatment/",
            "/treatment/rems/",
            "/treatment/protocols/",
            *(f"/treatment/sessions/{s}/" for s in ids["sessions"]),
            "/safety/",
            "/outcomes/",
            "/pain/",
            "/api/v1/docs",
            "/patients/999999999/",
        ],
        "nurse.kim": ["/monitoring/", *(f"/monitoring/sites/{s}/board/" for s in ids["sites"])],
        "custodian.garcia": [
            "/ledger/",
            "/ledger/entries/",
            "/ledger/verify/",
            "/ledger/register/",
            "/ledger/inventory/",
            *([f"/ledger/cases/{ids['case']}/"] if ids["case"] else []),
        ],
        "auditor.smith": ["/audit/"],
        "admin.jones": ["/clinic/settings/", "/accounts/me/"],
    }


def _collect(page: Any, messages: list[str]) -> None:
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda m: (
            messages.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None
        ),
    )


def test_main_pages_raise_no_csp_violation(browser: Any, live_url: str, live_home: str) -> None:
    ids = json.loads(run_in_server_env(live_home, IDS))
    problems: list[str] = []
    visited = 0
    for username, urls in _pages(ids).items():
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(45000)  # a shared 2-core machine: some pages take a while
        page = ctx.new_page()
        messages: list[str] = []
        _collect(page, messages)
        login(page, live_url, username)
        for url in urls:
            response = page.goto(live_url + url)
            assert response is not None
            assert response.headers["content-security-policy"].startswith(
                "default-src 'self'; script-src 'self';"
            )
            page.wait_for_load_state("networkidle")
            visited += 1
            problems += [f"{username} {url}: {v}" for v in page.evaluate("window.__cspViolations")]
            problems += [f"{username} {url}: console: {m}" for m in messages]
            messages.clear()
        ctx.close()
    assert visited == sum(len(u) for u in _pages(ids).values())
    assert problems == []


def test_scripts_still_work_under_the_policy(page: Any, live_url: str, live_home: str) -> None:
    ids = json.loads(run_in_server_env(live_home, IDS))
    messages: list[str] = []
    _collect(page, messages)
    login(page, live_url, "dr.patel")
    # The treatment tab asks htmx for the predicted concentration with the dose typed into the order form
    # (formerly an eval'd hx-vals expression, now app.js): the request carries the typed dose.
    page.goto(live_url + f"/treatment/patients/{ids['course_patient']}/")
    dose = page.locator(f"#dose_mg_{ids['course']}")
    with page.expect_request(lambda r: "/pk-curve/" in r.url and "amount_mg=37" in r.url) as request:
        dose.fill("37")
        dose.dispatch_event("change")
    assert "amount_mg=37" in request.value.url
    expect(page.locator(f"#pk-curve-{ids['course']}")).not_to_contain_text(
        "Loading the predicted concentration"
    )
    # The live socket connects (connect-src allows the site's own WebSocket).
    expect(page.locator("body")).to_have_attribute("data-live-connected", "1")
    assert page.evaluate("window.__cspViolations") == []
    assert messages == []
