"""The access lint (.ci/access_lint.py): the tree is clean, and each unscoped-load pattern is caught."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / ".ci" / "access_lint.py"


def lint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("access_lint", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tree_has_no_unscoped_load_in_views_or_api_modules() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("access lint: ") and done.stdout.endswith(
        " view and API modules, no unscoped load of a sensitive record\n"
    )
    names = {p.name for p in lint().target_files()}
    assert {"views.py", "api.py", "export_views.py"} <= names
    assert all(n.startswith(("views", "api")) or n.endswith(("_views.py", "_api.py")) for n in names)


SAMPLE = """
def a(request, pk):
    s = DosingSession.objects.get(pk=pk)
    t = DosingSession.objects.select_related("patient").filter(
        pk=pk, clinic_id=1
    ).first()
    u = get_object_or_404(Assessment, pk=pk)
    v = get_object_or_404(Lot.objects.select_related("product"), id=pk)
    w = Device._default_manager.filter(id=pk).exists()
    # Not flagged: lists and scoped non-id lookups, a model that holds nothing sensitive, a variable model.
    x = DosingSession.objects.filter(clinic=clinic, pk__in=ids)
    y = Product.objects.get(pk=pk)
    z = model.objects.get(pk=pk)
    q = get_object_or_404(Product, pk=pk)
    return s, t, u, v, w, x, y, z, q
"""


def test_each_pattern_is_caught_and_nothing_else() -> None:
    found = lint().findings_in(SAMPLE, "x/views.py")
    assert [line.split(": ", 1)[0] for line in found] == [
        "x/views.py:3", "x/views.py:4", "x/views.py:7", "x/views.py:8", "x/views.py:9"
    ]  # fmt: skip
    assert found[2] == "x/views.py:7: get_object_or_404(Assessment, ...): use its access function"
    assert found[0].endswith(
        "DosingSession.objects.get(pk=...): use its access function (ketaclinic.web.access)"
    )


def test_the_script_fails_with_one_line_per_finding(tmp_path: Path) -> None:
    bad = tmp_path / "views.py"
    bad.write_text(SAMPLE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(bad)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 5
    assert done.stderr == "5 unscoped load(s) of a sensitive record in views or API modules\n"
