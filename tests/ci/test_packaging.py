"""Packaging: the wheel builds without a single warning, carries the Apache-2.0 LICENSE, and states its licence
as an SPDX expression (PEP 639)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_wheel_builds_without_warnings_and_ships_the_licence(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v", "-w", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = out.stdout + out.stderr
    if out.returncode != 0 and "Could not find a version that satisfies the requirement setuptools" in log:
        pytest.skip("skipped: building the wheel needs setuptools>=77 from the package index (offline?)")
    assert out.returncode == 0, log[-3000:]
    # pip's own advice about running as root is not the build's; everything else must be silent.
    warnings = [
        line
        for line in log.splitlines()
        if re.search(r"warn", line, re.IGNORECASE) and "Running pip as the 'root' user" not in line
    ]
    assert warnings == []
    (wheel,) = tmp_path.glob("ketaclinic-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(info).decode("utf-8")
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert zf.read(licence) == (ROOT / "LICENSE").read_bytes()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8").splitlines()[0]
