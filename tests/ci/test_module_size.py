"""Every Python module outside migrations stays small enough to read: at most 650 lines.

A module that grows past it is split by topic (as the treatment and ledger actions packages are), not let grow.
"""

from __future__ import annotations

from pathlib import Path

MAX_LINES = 650
SRC = Path(__file__).resolve().parents[2] / "src" / "ketaclinic"


def oversized(root: Path, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """(path relative to `root`, line count) of every .py file under `root`, outside migrations, over `limit`."""
    out = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append((path.relative_to(root).as_posix(), n))
    return out


def test_no_module_outside_migrations_is_over_650_lines() -> None:
    assert SRC.is_dir()
    assert oversized(SRC) == [], "split these modules by topic"


def test_the_check_finds_a_long_module_and_skips_migrations(tmp_path: Path) -> None:
    (tmp_path / "app" / "migrations").mkdir(parents=True)
    (tmp_path / "app" / "long.py").write_text("x = 1\n" * 651)
    (tmp_path / "app" / "fits.py").write_text("x = 1\n" * 650)
    (tmp_path / "app" / "migrations" / "0001_initial.py").write_text("x = 1\n" * 5000)
    assert oversized(tmp_path) == [("app/long.py", 651)]
