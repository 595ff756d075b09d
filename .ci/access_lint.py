#!/usr/bin/env python
"""Fail when a view or API module loads a sensitive record by its id itself instead of through its access
function in ketaclinic.web.access (which scopes to the user's clinics, checks the permission and audits).

Flagged, in src/ketaclinic/web/**/views*.py, *_views.py, api*.py and *_api.py (and views/ or api/ packages):
  Model.objects.get(pk=...) / get(id=...)
  Model.objects....filter(pk=...)  (then .first(), .get(), .exists(), ...)
  get_object_or_404(Model, ...) / get_list_or_404(Model, ...)
for every Model in SENSITIVE_MODELS. The source is read as Python syntax (so a call spread over several lines
is still seen), nothing is imported. Exit 0 when clean, 1 with one line per finding.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "src" / "ketaclinic" / "web"

# Every model that holds a patient's clinical data or a clinic's controlled-substance or device records.
SENSITIVE_MODELS = frozenset(
    {
        "Patient",
        "DosingSession",
        "TreatmentCourse",
        "Order",
        "Administration",
        "VitalSign",
        "SideEffect",
        "SessionAlert",
        "RemsMonitoringForm",
        "MonitoringAlert",
        "Device",
        "DeviceAttachment",
        "SensorReading",
        "Site",
        "ScreeningRun",
        "IntakeItem",
        "Consent",
        "Assessment",
        "SuicideAlert",
        "RemoteLink",
        "RemoteSchedule",
        "Lot",
        "StorageLocation",
        "LedgerEntry",
        "Case",
        "CarePlan",
        "TherapySession",
        "PsychotherapyNote",
        "Visit",
        "TelehealthConsent",
        "LabResult",
        "FollowUp",
        "OpioidMedication",
        "SessionLink",
    }
)
BY_ID = frozenset({"pk", "id"})
SHORTCUTS = frozenset({"get_object_or_404", "get_list_or_404"})


def target_files(web: Path = WEB) -> list[Path]:
    """The view and API modules of the web apps."""
    out = []
    for path in sorted(web.rglob("*.py")):
        rel = path.relative_to(web).parts
        if "migrations" in rel:
            continue
        stems = [p.removesuffix(".py") for p in rel[1:]]
        if any(st.startswith(("views", "api")) or st.endswith(("_views", "_api")) for st in stems):
            out.append(path)
    return out


def _root_model(node: ast.AST) -> str | None:
    """The model name at the root of a `Model.objects...` chain, else None."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            if node.attr in ("objects", "_default_manager") and isinstance(node.value, ast.Name):
                return node.value.id
            node = node.value
        else:
            return None


def findings_in(source: str, name: str) -> list[str]:
    """One line per unscoped load of a sensitive model by id in this module's source."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in SHORTCUTS:
            first = node.args[0] if node.args else None
            model = first.id if isinstance(first, ast.Name) else _root_model(first) if first else None
            if model in SENSITIVE_MODELS:
                out.append(
                    (node.lineno, f"{name}:{node.lineno}: {func.id}({model}, ...): use its access function")
                )
            continue
        if not (isinstance(func, ast.Attribute) and func.attr in ("get", "filter")):
            continue
        if not any(k.arg in BY_ID for k in node.keywords):
            continue
        model = _root_model(func.value)
        if model in SENSITIVE_MODELS:
            out.append(
                (
                    node.lineno,
                    f"{name}:{node.lineno}: {model}.objects.{func.attr}(pk=...): use its access function "
                    "(ketaclinic.web.access)",
                )
            )
    return [line for _n, line in sorted(out)]


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in argv] if argv else target_files()
    found = []
    for path in paths:
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        found += findings_in(path.read_text(encoding="utf-8"), name)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} unscoped load(s) of a sensitive record in views or API modules", file=sys.stderr)
        return 1
    print(f"access lint: {len(paths)} view and API modules, no unscoped load of a sensitive record")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
