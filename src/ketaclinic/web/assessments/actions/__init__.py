"""Writes of this domain: record assessments, remote links and schedules, raise and acknowledge suicide-risk alerts.

Each action validates, runs in one transaction with its audit record, and sends live events after commit.

One module per topic; this package re-exports every public name, so `from ketaclinic.web.assessments.actions import name` keeps working.
"""

from __future__ import annotations

from ketaclinic.web.assessments.actions.alerts import do_acknowledge_alert
from ketaclinic.web.assessments.actions.common import (
    FUTURE_TOLERANCE,
    LINK_SALT,
    MAX_LINK_HOURS,
    REMOTE_INSTRUMENTS,
    item_errors,
    prescribers_for,
)
from ketaclinic.web.assessments.actions.links import (
    LinkUnavailable,
    create_followup_link,
    do_create_remote_link,
    do_revoke_remote_link,
    do_submit_remote_answers,
    link_token,
    link_url,
    resolve_link,
)
from ketaclinic.web.assessments.actions.records import do_record_assessment
from ketaclinic.web.assessments.actions.schedules import (
    do_create_schedule,
    do_deactivate_schedule,
    do_schedule_post_dose_links,
    materialise_due_links,
)

__all__ = [
    "FUTURE_TOLERANCE",
    "LINK_SALT",
    "MAX_LINK_HOURS",
    "REMOTE_INSTRUMENTS",
    "LinkUnavailable",
    "create_followup_link",
    "do_acknowledge_alert",
    "do_create_remote_link",
    "do_create_schedule",
    "do_deactivate_schedule",
    "do_record_assessment",
    "do_revoke_remote_link",
    "do_schedule_post_dose_links",
    "do_submit_remote_answers",
    "item_errors",
    "link_token",
    "link_url",
    "materialise_due_links",
    "prescribers_for",
    "resolve_link",
]
