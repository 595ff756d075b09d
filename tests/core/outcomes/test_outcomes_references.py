"""Published reference lines: the packaged file loads with its sources; a malformed one is refused by field."""

from __future__ import annotations

import pytest

from ketaclinic.core.instruments.definitions import DefinitionError
from ketaclinic.core.outcomes.references import parse_reference_lines, reference_lines


def test_packaged_reference_lines() -> None:
    refs = reference_lines()
    assert [(r.id, r.rate) for r in refs.lines] == [
        ("esketamine-transform-pooled-day28", 0.587),
        ("placebo-transform-pooled-day28", 0.452),
        ("iv-ketamine-meta-day7", 0.398),
    ]
    assert all(r.source.endswith("[V]") for r in refs.lines)
    assert [r.id for r in refs.for_route("iv")] == ["iv-ketamine-meta-day7"]
    assert len(refs.for_route("")) == 3 and refs.for_route("oral") == ()


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"id": "x", "label": "L", "short": "S", "source": "Src", "rate": 1.5, "routes": ["iv"]}, "rate"),
        (
            {"id": "x", "label": "L", "short": "S", "source": "Src", "rate": 0.5, "routes": ["nasal"]},
            "routes",
        ),
        ({"id": "x", "label": "L", "short": "S", "rate": 0.5, "routes": ["iv"]}, "source"),
    ],
)
def test_malformed_reference_line_names_the_field(line: dict[str, object], field: str) -> None:
    with pytest.raises(DefinitionError, match=rf"lines\[0\]\.{field}"):
        parse_reference_lines({"version": "1", "lines": [line]})
