"""Limits on untrusted JSON checked before it is parsed: total size and nesting depth.

`json.loads` recurses once per nesting level, so a body of a few kilobytes of "[[[[..." exhausts the
interpreter's stack; it also converts integers of any length (thousands of digits take quadratic time and
Python refuses more than 4,300). `check_json` scans the raw bytes once, counting bracket depth outside
strings, and reports the first limit exceeded; `loads_limited` checks, then parses.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
FHIR_MAX_DEPTH = 64
"""FHIR resources nest deeper than device batches (Bundle > entry > resource > extension > value ...)."""


def check_json(raw: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> str | None:
    """None when `raw` is within the limits, else the reason (naming the limit)."""
    if len(raw) > max_bytes:
        return f"is larger than {max_bytes} bytes"
    depth = 0
    in_string = False
    escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return f"is nested more than {max_depth} levels deep"
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return None


def loads_limited(raw: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON within the limits; ValueError naming the problem otherwise (never RecursionError)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    problem = check_json(data, max_bytes=max_bytes, max_depth=max_depth)
    if problem is not None:
        raise ValueError(problem)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, over-long integers
        raise ValueError(f"not valid JSON: {exc}") from None
