"""The nurse's path with the keyboard alone (Tab, Shift+Tab, Enter and typing): from the sessions board open
today's session and record a set of vitals. Every control on the way shows a visible focus ring."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import login, run_in_server_env

_SESSION_CODE = r"""
import json
from django.utils import timezone
from ketaclinic.web.treatment.models import DosingSession
today = [s for s in DosingSession.objects.order_by("scheduled_for") if timezone.localdate(s.scheduled_for) == timezone.localdate()]
ready = [s for s in today if s.status in ("checked_in", "dosing", "monitoring", "discharge_ready")]
scheduled = [s for s in today if s.status == "scheduled"]
pick = (ready or scheduled)[0]
print(json.dumps({"id": pick.pk, "status": pick.status}))
"""


def _tab_to(page: Any, test_js: str, limit: int = 250) -> None:
    """Press Tab until the focused element satisfies `test_js` (a function of the element)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const e = document.activeElement; return !!e && ({test_js})(e); }})()"):
            return
    raise AssertionError(f"Tab never reached an element matching {test_js}")


def _focus_ring_px(page: Any) -> float:
    return float(
        page.evaluate(
            """(() => { const s = getComputedStyle(document.activeElement);
                 const w = s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth);
                 return Math.max(w, s.boxShadow && s.boxShadow !== 'none' ? 3 : 0); })()"""
        )
    )


def test_nurse_records_vitals_with_the_keyboard_only(page: Any, live_url: str, live_home: str) -> None:
    session = json.loads(run_in_server_env(live_home, _SESSION_CODE).strip().splitlines()[-1])
    login(page, live_url, "nurse.kim")
    page.goto(live_url + "/treatment/")
    target = f"/treatment/sessions/{session['id']}/"
    _tab_to(page, f"e => e.tagName === 'A' && e.getAttribute('href') === '{target}'")
    assert _focus_ring_px(page) >= 3
    page.keyboard.press("Enter")
    page.wait_for_url(live_url + target)
    if session["status"] == "scheduled":
        _tab_to(page, "e => e.tagName === 'BUTTON' && e.textContent.trim() === 'Check in'")
        page.keyboard.press("Enter")
        expect(page.locator("#session-status")).to_have_attribute("data-status", "checked_in")
    _tab_to(page, "e => e.id === 'v-sys'")
    assert _focus_ring_px(page) >= 3
    for value in ("121", "79", "71", "97", "15"):  # systolic, diastolic, heart rate, SpO2, respiratory rate
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    _tab_to(page, "e => e.tagName === 'BUTTON' && e.textContent.trim() === 'Save vitals'")
    assert _focus_ring_px(page) >= 3
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    row = page.locator('#flowsheet tr[data-source="manual"]', has_text="121/79")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("71")
