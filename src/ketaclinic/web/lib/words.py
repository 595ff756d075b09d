"""Text that people read: unit codes and second counts from the core's rule wording, written as words.

The core words its rules with UCUM codes ("SBP above 180 mm[Hg]") and durations in seconds ("for 5400 s"),
which suits its machine-readable outputs. Messages stored for staff to read go through `human_text` first;
the codes stay in the record's own fields (unit, rule id) and in exports.
"""

from __future__ import annotations

import re

_UCUM = re.compile(r"(\w*)\[([A-Za-z_%.]+)\]")
_SECONDS = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) s\b")


def human_units(text: str) -> str:
    """UCUM unit codes as people write them: "mm[Hg]" -> "mmHg", "[lb_av]" -> "lb av"."""
    return _UCUM.sub(lambda m: m.group(1) + m.group(2).replace("_", " "), text)


def _duration(m: re.Match[str]) -> str:
    seconds = float(m.group(1))
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds / 60
        return f"{minutes:g} minute" + ("" if minutes == 1 else "s")
    return f"{seconds:g} second" + ("" if seconds == 1 else "s")


def human_text(text: str) -> str:
    """`text` with unit codes and second counts in words: "HR above 110 /min for 5400 s" ->
    "HR above 110 /min for 90 minutes"; "SBP above 180 mm[Hg]" -> "SBP above 180 mmHg"."""
    return _SECONDS.sub(_duration, human_units(text))
