"""What the patient reads before a session: built from the course's protocol (fasting, transport) and the clinic's list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: What to bring: the clinic's default list (configurable default; no guideline prescribes it).
WHAT_TO_BRING = (
    "A list of every medicine you take, including any taken today",
    "Comfortable clothes and something warm; glasses rather than contact lenses",
    "Headphones or an eye mask if you like to use them",
    "The name and phone number of the adult who will take you home",
)
#: The integration prompts the patient answers after a session (the clinic's default wording).
INTEGRATION_PROMPTS = (
    ("stood_out", "What stood out for you during the session?", "text"),
    ("feeling", "How are you feeling now, from 0 (very low) to 10 (very good)?", "scale"),
    ("bring", "Is there anything you would like to talk about at your integration session?", "text"),
)


@dataclass(frozen=True)
class Preparation:
    fasting: str | None
    transport: str | None
    bring: tuple[str, ...]
    notes: tuple[str, ...]


def _hours_text(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} minutes"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def preparation_for(protocol_snapshot: Any) -> Preparation:
    """The instructions for a course's protocol; falls back to general wording when the snapshot is unreadable."""
    from ketaclinic.core.protocols.model import ProtocolError, parse_protocol

    try:
        protocol = parse_protocol(protocol_snapshot)
    except ProtocolError:  # an old or partial snapshot still gets the general instructions
        protocol = None
    fasting = transport = None
    notes: list[str] = []
    if protocol is not None:
        food = float(protocol.pre_dose.fasting_food_hours.value)
        liquids = float(protocol.pre_dose.fasting_liquids_hours.value)
        if food or liquids:
            fasting = f"Do not eat for {_hours_text(food)} and do not drink for {_hours_text(liquids)} before your session."
        if protocol.pre_dose.transport_home_required:
            transport = (
                "An adult must take you home. Do not drive, cycle or operate machinery until the next day, "
                "after a restful sleep."
            )
        if protocol.drug == "esketamine":
            notes.append(
                "If you use a nasal corticosteroid or decongestant, use it at least 1 hour before your session."
            )
    return Preparation(fasting=fasting, transport=transport, bring=WHAT_TO_BRING, notes=tuple(notes))
