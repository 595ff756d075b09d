"""Every main page, as the role that uses it, at phone (390 px), tablet (820 px) and desktop (1440 px) widths.

On each page and width: no sideways scrolling, no console errors, words rather than codes in the visible text
(tests/web/words.py), and axe-core (vendored, tests/browser/vendor/axe-core) reports no serious or critical
accessibility violation. A screenshot of each is saved under artifacts/screenshots/ (kept by CI).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login, run_in_server_env
from tests.web.words import raw_codes

WIDTHS = (390, 820, 1440)
#: Boards and the run sheet use the whole width of a wide screen.
WIDE_PAGES = (r"^/treatment/$", r"^/monitoring/sites/\d+/board/$", r"^/treatment/sessions/\d+/$")
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

_URLS_CODE = r"""
import json
from django.urls import reverse
from ketaclinic.web.accounts.models import User
from ketaclinic.web.assessments.actions import do_create_remote_link
from ketaclinic.web.clinics.models import Site
from ketaclinic.web.patients.tabs import CHART_TABS
from ketaclinic.web.treatment.models import DosingSession

sessions = list(DosingSession.objects.order_by("-scheduled_for"))
by_status = {}
for s in sessions:
    by_status.setdefault(s.status, s)
run_sheet = next(iter(by_status.values()))
pid = run_sheet.patient_id
tabs = []
for tab in CHART_TABS:
    tabs.append(reverse(tab.url_name, kwargs={"patient_id": pid}))
site = Site.objects.filter(clinic_id=run_sheet.patient.clinic_id).order_by("pk").first()
_, remote = do_create_remote_link(actor=User.objects.get(username="dr.patel"), patient_id=pid, instrument_id="phq9")
print(json.dumps({
    "run_sheet": f"/treatment/sessions/{run_sheet.pk}/",
    "chart_tabs": tabs,
    "site_board": f"/monitoring/sites/{site.pk}/board/",
    "remote": remote,
}))
"""


@pytest.fixture(scope="module")
def urls(live_home: str) -> dict[str, Any]:
    return dict(json.loads(run_in_server_env(live_home, _URLS_CODE).strip().splitlines()[-1]))


from ketaclinic.web.patients.tabs import CHART_TABS  # noqa: E402  (the chart's tabs, one test each)

#: (role, page); "{name}" is filled from the server's data, "{tab:slug}" is a chart tab of the run sheet's patient.
PAGES: list[tuple[str, str]] = [
    ("nurse.kim", "/"),
    ("nurse.kim", "/patients/"),
    ("nurse.kim", "/treatment/"),
    ("nurse.kim", "{site_board}"),
    ("nurse.kim", "{run_sheet}"),
    *(("dr.patel", f"{{tab:{t.slug}}}") for t in CHART_TABS),
    ("dr.patel", "/alerts/"),
    ("dr.patel", "/outcomes/"),
    ("custodian.garcia", "/ledger/"),
    ("custodian.garcia", "/ledger/entries/"),
    ("auditor.smith", "/audit/"),
    ("admin.jones", "/clinic/settings/"),
    ("admin.jones", "/clinic/staff/"),
    ("admin.jones", "/treatment/protocols/"),
    ("desk.lee", "/patients/new/"),
    ("", "/accounts/login/"),
    ("", "{remote}"),
]


def resolve(template: str, urls: dict[str, Any]) -> str:
    if template.startswith("{tab:"):
        slug = template[5:-1]
        return str(urls["chart_tabs"][[t.slug for t in CHART_TABS].index(slug)])
    if template.startswith("{"):
        return str(urls[template[1:-1]])
    return template


def _slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.split("?")[0].lower()).strip("-") or "home"


def check_page(page: Any, url: str, width: int, who: str) -> list[str]:
    """Visit `url` at `width` px; returns the problems found (an empty list when the page passes)."""
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(f"{m.text} ({(m.location or {}).get('url', '')})") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: console.append(str(e)))
    page.set_viewport_size({"width": width, "height": 900})
    resp = page.goto(url)  # relative to the context's base_url
    page.wait_for_load_state("load")
    label = f"{who or 'patient'} {url} @{width}"
    problems = []
    if resp is None or resp.status != 200:
        return [f"{label}: status {resp.status if resp else 'none'}"]
    scroll = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if scroll[0] > scroll[1]:
        wide = page.evaluate(
            """(w) => {
                 const inScroller = (e) => { for (let p = e.parentElement; p; p = p.parentElement) {
                   const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
                   return false; };
                 return Array.from(document.querySelectorAll('body *'))
                   .filter(e => e.getBoundingClientRect().right > w && !inScroller(e))
                   .slice(-3).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
               }""",
            scroll[1],
        )
        problems.append(f"{label}: scrolls sideways ({scroll[0]} > {scroll[1]} px): {wide}")
    if width >= 1440 and any(re.match(p, url) for p in WIDE_PAGES):
        main_width = page.evaluate("document.getElementById('main').getBoundingClientRect().width")
        if main_width < width - 40:
            problems.append(f"{label}: a board or run sheet uses {main_width:.0f} of {width} px")
    text = page.evaluate("document.body.innerText")
    problems += [f"{label}: {p}" for p in raw_codes(re.sub(r"\s+", " ", text))]
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        """async () => {
             const r = await axe.run(document, {resultTypes: ['violations']});
             return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
               .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' -- ' +
                    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
           }"""
    )
    problems += [f"{label}: axe {v}" for v in result]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{who or 'patient'}--{_slug(url)}--{width}.png"), full_page=True)
    problems += [f"{label}: console error {c}" for c in console]
    return problems


@pytest.fixture(scope="module")
def signed_in(browser: Any, live_url: str) -> dict[str, Any]:
    """Each role's signed-in browser state, made once per module (a fresh sign-in per role)."""
    states: dict[str, Any] = {}

    def state(who: str) -> Any:
        if who not in states:
            ctx = browser.new_context(base_url=live_url)
            page = ctx.new_page()
            login(page, live_url, who)
            states[who] = ctx.storage_state()
            ctx.close()
        return states[who]

    return {"state": state}


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("who", "template"), PAGES, ids=[f"{w or 'patient'}:{t}" for w, t in PAGES])
def test_page_at_three_widths(
    who: str, template: str, browser: Any, live_url: str, urls: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    url = resolve(template, urls)
    state = signed_in["state"](who) if who else None
    context = browser.new_context(base_url=live_url, storage_state=state)
    context.set_default_timeout(20000)
    problems: list[str] = []
    try:
        for width in WIDTHS:
            page = context.new_page()
            problems += check_page(page, url, width, who)
            page.close()
    finally:
        context.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
