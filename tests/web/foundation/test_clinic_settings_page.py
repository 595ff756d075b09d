"""The clinic settings page renders once, inside the site layout, with each section exactly once."""

from __future__ import annotations

from typing import Any

from ketaclinic.web.accounts.models import User


def test_settings_page_has_each_section_once(admin_user: User, client_as: Any) -> None:
    resp = client_as(admin_user).get("/clinic/settings/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert html.count("<title>Clinic settings · ketaclinic</title>") == 1
    assert html.count('<h2 id="h-staff">Staff</h2>') == 1
    assert html.count('<h2 id="h-clinic">Clinic</h2>') == 1
    assert html.count('<h2 id="h-sites">Sites and registrations</h2>') == 1
    assert 'on the <a href="/clinic/staff/">staff page</a>' in html  # the staff forms have their own page
    assert html.count('name="form" value="token_policy"') == 1
    assert len(html) < 60_000
