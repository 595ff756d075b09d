"""The prescriber's day starts on the home page: open alerts counted in the nav, the inbox acknowledges a
suicide-risk alert with a chosen action (none pre-selected), and the safety-plan task that alert opened is
completed on the Safety tab and printed. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

SHOTS = Path("artifacts/screenshots")

FIND = """
import json
from ketaclinic.web.assessments.models import SuicideAlert
from ketaclinic.web.surveillance.models import SafetyPlan
a = SuicideAlert.objects.filter(clinic__slug="riverside-demo", acknowledged_at__isnull=True).order_by("pk").first()
plan = SafetyPlan.objects.filter(patient=a.patient, completed_at__isnull=True).first()
print(json.dumps({"alert": a.pk, "patient": a.patient_id, "name": a.patient.full_name,
                  "plan": plan.pk if plan else None}))
"""

PLAN = {
    "1. Warning signs": "Not sleeping; staying in my room",
    "2. Internal coping strategies": "Walk the dog; music",
    "3. People and social settings that provide distraction": "The cafe on Main Street",
    "4. People to ask for help": "My sister",
    "5. Professionals and agencies to contact in a crisis, crisis lines included": "Clinic; 988 crisis line",
    "6. Making the environment safe": "Medicines kept by my sister",
    "7. Reasons for living": "My daughter",
}


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"home-inbox-{name}.png"), full_page=True)


def test_home_inbox_acknowledge_and_safety_plan(page: Any, live_url: str, live_home: str) -> None:
    found = json.loads(run_in_server_env(live_home, FIND))
    login(page, live_url, "dr.patel")
    # Sign-in lands on the home page with the prescriber's sections.
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    for key in ("alerts", "screening", "cosign", "orders", "rems", "trends"):
        expect(page.locator(f"#section-{key}")).to_be_visible()
    count = page.locator("[data-nav-alert-count]")
    before = int(count.inner_text().replace("(", "").replace("open)", "").strip())
    _shot(page, "home")

    page.locator("[data-nav-alerts]").click()
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    item = page.locator(f"#alert-suicide_risk-{found['patient']}-{found['alert']}")
    expect(item).to_contain_text(found["name"])
    radios = item.locator('input[name="action"]')
    assert radios.count() == 3
    for i in range(3):
        assert not radios.nth(i).is_checked()
    # Without a chosen action: the error is named and the note kept.
    item.get_by_label("Note (required)").fill("Called the patient; plan made together")
    item.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#error-summary")).to_contain_text("Action taken: choose what was done")
    item = page.locator(f"#alert-suicide_risk-{found['patient']}-{found['alert']}")
    expect(item.get_by_label("Note (required)")).to_have_value("Called the patient; plan made together")
    _shot(page, "inbox-error")
    item.get_by_label("Safety plan reviewed / made").check()
    item.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("Alert acknowledged. It has left the inbox.")
    expect(page.locator(f"#alert-suicide_risk-{found['patient']}-{found['alert']}")).to_have_count(0)
    after = page.locator("[data-nav-alert-count]")
    if before > 1:
        expect(after).to_contain_text(str(before - 1))
    else:
        expect(after).to_have_count(0)

    if found["plan"] is None:
        return
    # The alert opened a safety-plan task: complete it with the patient on the Safety tab, then print it.
    page.goto(f"{live_url}/safety/patient/{found['patient']}/")
    plan = page.locator(f'[data-safety-plan="{found["plan"]}"]')
    expect(plan).to_have_attribute("data-completed", "0")
    for label, text in PLAN.items():
        plan.get_by_label(label).fill(text)
    plan.get_by_role("button", name="Complete the safety plan").click()
    done = page.locator(f'[data-safety-plan="{found["plan"]}"]')
    expect(done).to_have_attribute("data-completed", "1")
    done.get_by_role("link", name="Print the plan").click()
    expect(page.get_by_role("heading", name="My safety plan")).to_be_visible()
    for text in PLAN.values():
        expect(page.locator("article")).to_contain_text(text)
    _shot(page, "safety-plan-print")
