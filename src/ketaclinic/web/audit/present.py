"""How the audit trail reads to people: action codes and detail dictionaries turned into words.

The codes stay in the data, in tooltips and in the CSV export; the page shows these labels.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.dateformat import format as date_format

from ketaclinic.web.lib.templatetags.kc import field_label

#: Words that are written in capitals or otherwise differ from their code.
_WORDS = {
    "api": "API",
    "fhir": "FHIR",
    "pk": "PK",
    "pdf": "PDF",
    "rems": "REMS",
    "mrn": "MRN",
    "ip": "IP",
    "id": "ID",
    "ids": "IDs",
    "csv": "CSV",
    "url": "URL",
    "mme": "MME",
    "patientprep": "patient preparation",
    "careplan": "care plan",
    "kg": "kg",
    "mg": "mg",
}
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_MAX_VALUE = 300


def words(code: str) -> str:
    """A code in words: "weight_record" -> "weight record", "fhir" -> "FHIR"."""
    parts = [p for p in re.split(r"[_.\s]+", str(code)) if p]
    return " ".join(_WORDS.get(p.lower(), p) for p in parts)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


_SNAKE_IN_TEXT = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def text_in_words(text: str) -> str:
    """Free text with any snake_case code in it written as words ("Care plan: chronic_pain" -> "... chronic pain")."""
    return _SNAKE_IN_TEXT.sub(lambda m: words(m.group(0)), str(text))


def action_label(code: str) -> str:
    """An audit action in words: "patient.weight_record" -> "Patient: weight record"."""
    subject, _, rest = str(code).partition(".")
    if not rest:
        return _capital(words(subject))
    return f"{_capital(words(subject))}: {words(rest)}"


@dataclass(frozen=True)
class DetailRow:
    label: str
    value: str
    code: str  # the key as stored, for the tooltip


def _value(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "none"
    text = str(value)
    if _ISO_TIME.match(text):
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if timezone.is_aware(when):
                return date_format(timezone.localtime(when), "j M Y, H:i T")
    if _SNAKE.match(text):
        text = words(text)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def detail_rows(detail: Any) -> list[DetailRow]:
    """The detail of an event as label/value rows, in the stored order."""
    if not isinstance(detail, dict):
        return [DetailRow("Detail", _value(detail), "detail")] if detail not in (None, "", [], {}) else []
    return [DetailRow(_key_label(str(k)), _value(v), str(k)) for k, v in detail.items()]


def _key_label(key: str) -> str:
    # "patient_id" -> "Patient ID", "weight_kg" -> "Weight (kg)", "changed_fields" -> "Changed fields"
    return _capital(words(key)) if key.endswith("_id") else _capital(words(field_label(key)))
