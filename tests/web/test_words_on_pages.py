"""Every main page, as each demo role sees it on demo data, speaks in words (tests/web/words.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.web.words import raw_codes, visible_text

from ketaclinic.web import demo
from ketaclinic.web.patients.tabs import CHART_TABS

#: Pages allowed to show a kind of code, with why (none: every main page speaks in words). Any code on any page
#: that is not listed here fails the test.
KNOWN: list[tuple[re.Pattern[str], str, str]] = []  # every page speaks in words now

ROLES = [
    "dr.patel",
    "nurse.kim",
    "desk.lee",
    "custodian.garcia",
    "auditor.smith",
    "admin.jones",
    "therapist.ng",
    "researcher.ito",
]


def _pages(ctx: Any) -> list[str]:
    from ketaclinic.web.ledger.models import Case
    from ketaclinic.web.screening.models import ScreeningRun
    from ketaclinic.web.treatment.models import DosingSession

    sessions = list(DosingSession.objects.filter(patient__clinic=ctx.clinic).order_by("-scheduled_for"))
    patients = {s.patient_id for s in sessions[:1]}
    review = ScreeningRun.objects.filter(patient__clinic=ctx.clinic, decision="needs_review").first()
    if review is not None:
        patients.add(review.patient_id)
    urls = [
        "/patients/",
        "/audit/",
        "/treatment/",
        "/treatment/rems/",
        "/treatment/protocols/",
        "/monitoring/",
        "/ledger/",
        "/ledger/entries/",
        "/ledger/verify/",
        "/safety/",
        "/alerts/",
        "/",
        "/outcomes/",
        "/pain/",
        "/clinic/settings/",
        *(f"/monitoring/sites/{site.pk}/board/" for site in ctx.sites),
        *(f"/treatment/sessions/{s.pk}/" for s in {s.status: s for s in sessions}.values()),
        *(f"/ledger/cases/{c.pk}/" for c in Case.objects.all()[:1]),
    ]
    for pid in sorted(patients):
        urls += [reverse(tab.url_name, kwargs={"patient_id": pid}) for tab in CHART_TABS]
    return urls


@pytest.mark.slow
def test_every_main_page_speaks_in_words(db: Any) -> None:
    from ketaclinic.web.assessments.actions import do_create_remote_link

    ctx = demo.seed_demo(patients=50)
    assert ctx is not None
    pages = _pages(ctx)
    _, remote = do_create_remote_link(
        actor=ctx.staff["dr.patel"], patient_id=ctx.patients[0].pk, instrument_id="phq9"
    )
    problems: list[str] = []
    seen: set[str] = set()
    anonymous = Client().get(remote)
    assert anonymous.status_code == 200
    problems += [f"patient form {remote}: {p}" for p in raw_codes(visible_text(anonymous.content.decode()))]
    for username in ROLES:
        client = Client()
        client.force_login(ctx.staff[username])
        for url in pages:
            r = client.get(url)
            assert r.status_code in (200, 302, 403, 404), (username, url, r.status_code)
            if r.status_code != 200:
                continue
            seen.add(url)
            problems += [
                f"{username} {url}: {p}"
                for p in raw_codes(visible_text(r.content.decode()))
                if not any(page.match(url) and p.startswith(f"{rule}:") for page, rule, _ in KNOWN)
            ]
    assert seen == set(pages)  # every page is read by some role
    assert not problems, f"{len(problems)} codes shown to people:\n" + "\n".join(sorted(set(problems)))
