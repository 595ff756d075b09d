"""Every audit action the code writes is a member of the vocabulary (ketaclinic.core.audit.events), named at the
call site (`action=AuditAction.COURSE_START`), never a bare string; actions built from data stay inside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.core.ledger import EntryType

SRC = Path(__file__).resolve().parents[2] / "src" / "ketaclinic"
AUDIT_HELPERS = {"record_audit", "_audit", "_audit_page", "_audit_read"}


def string_actions(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, string) of each string constant given as an audit action in a call under `root`."""
    out = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            exprs = [k.value for k in node.keywords if k.arg in ("action", "audit_action")]
            if ast.unparse(node.func).split(".")[-1] in AUDIT_HELPERS:
                exprs += node.args
            for expr in exprs:
                in_fstrings = {
                    id(c) for f in ast.walk(expr) if isinstance(f, ast.JoinedStr) for c in ast.walk(f)
                }
                for c in ast.walk(expr):
                    if id(c) in in_fstrings:
                        continue  # built from data: test_actions_built_from_data_are_members covers it
                    if isinstance(c, ast.Constant) and isinstance(c.value, str) and "." in c.value:
                        out.append((path.relative_to(root).as_posix(), c.lineno, c.value))
    return out


def test_no_call_site_names_an_audit_action_by_a_bare_string() -> None:
    assert string_actions(SRC) == []


def test_the_scan_finds_a_bare_string(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        'record_audit(actor=a, action="course.start")\n'
        "record_audit(actor=a, action=AuditAction.COURSE_START)\n"
        '_audit_page(request, clinic, "ledger.register.view", {})\n'
        'record_audit(actor=a, action=f"session.{to}")\n'
    )
    assert string_actions(tmp_path) == [("m.py", 1, "course.start"), ("m.py", 3, "ledger.register.view")]


@pytest.mark.django_db
def test_actions_built_from_data_are_members() -> None:
    from ketaclinic.web.treatment.models import DosingSession

    for status in DosingSession.Status.values:
        if status != DosingSession.Status.SCHEDULED:  # a session is created scheduled, never moved to it
            assert AuditAction.from_stored(f"session.{status}") is not None, status
    for entry_type in EntryType:
        assert AuditAction.from_stored(f"ledger.{entry_type.slug}") is not None, entry_type
    for item in ("goal", "activity"):
        assert AuditAction.from_stored(f"careplan.{item}_status") is not None
