"""The function-level import count (.ci/function_imports.py): counted exactly, and the tree stays at or below its
limit."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "function_imports.py"


def load() -> object:
    spec = importlib.util.spec_from_file_location("function_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_imports_inside_functions_once_each() -> None:
    source = (
        "from ketaclinic.web.lib import errors\n"  # module level: not counted
        "def f():\n"
        "    from ketaclinic.web.treatment import models\n"
        "    import ketaclinic.web.ledger\n"
        "    import json\n"  # not ketaclinic.web
        "    def g():\n"
        "        from ketaclinic.web.audit.models import AuditEvent\n"  # nested: counted once
        "class C:\n"
        "    def m(self):\n"
        "        from ketaclinic.core import pk\n"  # core: not counted
    )
    assert load().function_level_imports(source) == 3  # type: ignore[attr-defined]


def test_the_tree_is_within_its_limit() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    module = load()
    assert module.tree_count() <= module.LIMIT  # type: ignore[attr-defined]
