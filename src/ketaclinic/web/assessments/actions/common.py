"""Shared pieces of the assessment actions: instrument lookup, scoring and answer checks, the care team's
prescribers, and the remote-link settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ketaclinic.core.instruments import (
    INSTRUMENT_IDS,
    AnswerError,
    Instrument,
    ScoreResult,
    load_instrument,
    score,
)
from ketaclinic.web.assessments.models import (
    Context,
)

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient

LINK_SALT = "ketaclinic.assessments.remote-link"


#: Instruments a patient may answer through a remote link (issue 3).
REMOTE_INSTRUMENTS: tuple[str, ...] = (
    "phq9",
    "gad7",
    "pcl5",
    "qids-sr16",
    "cssrs-screener",
    "craving",
    "side-effects",
    "peg",
)


FUTURE_TOLERANCE = dt.timedelta(minutes=5)


MAX_LINK_HOURS = 24 * 14


def _instrument(
    instrument_id: Any, errors: dict[str, list[str]], *, remote: bool = False
) -> Instrument | None:
    if not isinstance(instrument_id, str) or instrument_id not in INSTRUMENT_IDS:
        errors["instrument"] = [f"unknown instrument {instrument_id!r}; known: {', '.join(INSTRUMENT_IDS)}"]
        return None
    if remote and instrument_id not in REMOTE_INSTRUMENTS:
        errors["instrument"] = [f"{instrument_id} cannot be sent as a remote questionnaire"]
        return None
    return load_instrument(instrument_id)


def _context(value: Any, errors: dict[str, list[str]]) -> str:
    if value not in Context.values:
        errors["context"] = [f"must be one of {', '.join(Context.values)}"]
    return str(value)


def _score(defn: Instrument, answers: Any, errors: dict[str, list[str]]) -> ScoreResult | None:
    try:
        return score(defn, answers)
    except AnswerError as exc:
        key = "answers" if exc.item is None else f"item_{defn.item(exc.item).code}"
        errors[key] = [exc.reason]
        return None


def item_errors(defn: Instrument, answers: Sequence[Any]) -> dict[str, list[str]]:
    """Check every item (not just the first bad one) so a form can show all problems at once."""
    errors: dict[str, list[str]] = {}
    if len(answers) != len(defn.items):
        return {"answers": [f"{defn.short_title} has {len(defn.items)} items; got {len(answers)} answers"]}
    for item, value in zip(defn.items, answers, strict=True):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[f"item_{item.code}"] = [f"{value!r} is not an integer"]
        elif value not in item.allowed_values:
            errors[f"item_{item.code}"] = [
                f"{value} is out of range; allowed {item.min_value}-{item.max_value}"
            ]
    if not errors:
        _score(defn, list(answers), errors)
    return errors


def _patient_ref(patient: Patient) -> str:
    return f"Patient/{patient.pk}"


def prescribers_for(patient: Patient) -> list[Any]:
    """The patient's prescriber(s): care-team prescribers who still prescribe in the clinic, else every
    active prescriber of the clinic (an alert must always reach someone)."""
    from ketaclinic.web.accounts.models import Membership, User, effective_membership_q
    from ketaclinic.web.patients.models import CareTeamMember

    prescriber_ids = set(
        Membership.objects.filter(
            effective_membership_q(), clinic_id=patient.clinic_id, role="prescriber"
        ).values_list("user_id", flat=True)
    )
    team = set(
        CareTeamMember.objects.filter(patient=patient, team_role="prescriber").values_list(
            "user_id", flat=True
        )
    )
    chosen = (team & prescriber_ids) or prescriber_ids
    return list(User.objects.filter(pk__in=chosen, is_active=True).order_by("pk"))


def _alert_reasons(defn: Instrument, result: ScoreResult) -> list[str]:
    return list(result.suicide_risk_reasons)
