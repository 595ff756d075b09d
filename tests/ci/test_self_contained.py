"""The repository stands on its own: no file points to documents outside it (the project's working notes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Built from parts so this file does not match itself.
FORBIDDEN = ("../" + "shared", "CONTRACTS" + ".md", "CONTRACTS" + " §", "clinical-" + "guidance")


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or "/static/vendor/" in name:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if any(f in line for f in FORBIDDEN):
                hits.append(f"{name}:{n}: {line.strip()[:120]}")
    assert hits == []
