"""Reads for session pages: what the patient sees (times in the site's zone, instructions, open questionnaires) and staff lists."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import QuerySet
from django.utils import timezone

from ketaclinic.web.patientprep.instructions import INTEGRATION_PROMPTS, preparation_for
from ketaclinic.web.patientprep.models import SessionLink, SessionReflection

if TYPE_CHECKING:
    from ketaclinic.web.clinics.models import Site
    from ketaclinic.web.patients.models import Patient


def site_zone(site: Site | None) -> Any:
    """The site's time zone (the default zone when the site has none or an unknown one)."""
    try:
        return (
            ZoneInfo(site.timezone) if site is not None and site.timezone else timezone.get_default_timezone()
        )
    except ZoneInfoNotFoundError:
        return timezone.get_default_timezone()


def site_time(value: dt.datetime, site: Site | None) -> dt.datetime:
    """`value` in the site's time zone."""
    return timezone.localtime(value, site_zone(site))


def open_questionnaires(patient: Patient) -> list[dict[str, Any]]:
    """The patient's questionnaire links open now, with their addresses (the scheduled questionnaires)."""
    from ketaclinic.core.instruments import load_instrument
    from ketaclinic.web.assessments.actions import link_url
    from ketaclinic.web.assessments.selectors import links_for_patient

    now = timezone.now()
    out = []
    for link in links_for_patient(patient)[:50]:
        if link.status_at(now) == "open":
            out.append(
                {
                    "title": load_instrument(link.instrument_id).title,
                    "url": link_url(link),
                    "expires_at": link.expires_at,
                }
            )
    return out


def page_context(link: SessionLink) -> dict[str, Any]:
    session = link.dosing_session
    site = session.site
    after = session.first_dose_at is not None
    return {
        "link": link,
        "session": session,
        "site": site,
        "when": site_time(session.scheduled_for, site),
        "expires": site_time(link.expires_at, site),
        "zone": site.timezone if site is not None else "",
        "after": after,
        "prep": preparation_for(session.course.protocol_snapshot),
        "prompts": INTEGRATION_PROMPTS,
        "reflected": link.reflections.exists(),
        "questionnaires": open_questionnaires(link.patient) if after else [],
        "scale": list(range(11)),
    }


def links_for_patient(patient: Patient) -> QuerySet[SessionLink]:
    return SessionLink.objects.filter(patient=patient).select_related("dosing_session")


def reflections_for_patient(patient: Patient) -> QuerySet[SessionReflection]:
    return SessionReflection.objects.filter(link__patient=patient).select_related(
        "link", "link__dosing_session"
    )


def prompt_labels() -> dict[str, str]:
    return {key: text for key, text, _kind in INTEGRATION_PROMPTS}
