"""Validated rating scales: versioned data definitions, scoring, and response/remission outcomes."""

from ketaclinic.core.instruments.definitions import (
    INSTRUMENT_IDS,
    DefinitionError,
    Instrument,
    Item,
    UnknownInstrumentError,
    all_instruments,
    load_instrument,
)
from ketaclinic.core.instruments.scoring import AnswerError, Flag, ScoreResult, parse_answer_text, score

__all__ = [
    "INSTRUMENT_IDS",
    "AnswerError",
    "DefinitionError",
    "Flag",
    "Instrument",
    "Item",
    "ScoreResult",
    "UnknownInstrumentError",
    "all_instruments",
    "load_instrument",
    "parse_answer_text",
    "score",
]
