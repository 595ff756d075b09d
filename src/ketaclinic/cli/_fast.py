"""The commands scripts call in loops, without importing Typer: `version`, `--version`, `score … --json`.

`run_fast(argv)` returns the exit code when it handled the command line, or None to hand it to the Typer app.
It takes only the plain forms (`score INSTRUMENT --answers A [--allow-partial] --json`, options in any order,
`--answers=A` too); help, repeated or unknown options and the text output go to Typer. Output, messages and
exit codes are those of the Typer command (docs/cli.md); tests/cli compare the two paths.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _score_args(argv: list[str]) -> tuple[str, str, bool] | None:
    instrument: str | None = None
    answers: str | None = None
    as_json = allow_partial = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json" and not as_json:
            as_json = True
        elif a == "--allow-partial" and not allow_partial:
            allow_partial = True
        elif a == "--answers" and answers is None and i + 1 < len(argv):
            answers = argv[i + 1]
            i += 1
        elif a.startswith("--answers=") and answers is None:
            answers = a[len("--answers=") :]
        elif not a.startswith("-") and instrument is None:
            instrument = a
        else:
            return None
        i += 1
    if instrument is None or answers is None or not as_json:
        return None
    return instrument, answers, allow_partial


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 2


def run_fast(argv: list[str]) -> int | None:
    if argv in (["version"], ["--version"]):
        import ketaclinic

        sys.stdout.write(ketaclinic.__version__ + "\n")
        return 0
    if not argv or argv[0] != "score":
        return None
    parsed = _score_args(argv[1:])
    if parsed is None:
        return None
    instrument, answers, allow_partial = parsed
    from ketaclinic.core.instruments import (
        AnswerError,
        UnknownInstrumentError,
        load_instrument,
        parse_answer_text,
        score,
    )

    try:
        defn = load_instrument(instrument)
    except UnknownInstrumentError as exc:
        return _fail(f"INSTRUMENT: {exc}")
    try:
        values = parse_answer_text(defn, answers, allow_blank=allow_partial)
        result = score(defn, values)
    except AnswerError as exc:
        return _fail(f"{defn.id} {exc.field}: {exc.reason}")
    sys.stdout.write(json.dumps(score_json(result), ensure_ascii=False, sort_keys=False) + "\n")
    return 0


def score_json(result: Any) -> dict[str, Any]:
    """The `score --json` object (docs/cli.md)."""
    return {
        "instrument": result.instrument_id,
        "total": result.total,
        "severity": result.severity,
        "flags": list(result.flag_codes),
        "version": result.version,
        "complete": result.complete,
        "severity_label": result.severity_label,
        "missing_items": list(result.missing_items),
        "not_asked_items": list(result.not_asked_items),
        "subscales": {p.code: p.value for p in result.subscales},
        "domains": {p.code: p.value for p in result.domains},
        "suicide_risk": result.suicide_risk,
        "answers": list(result.answers),
    }
