"""Parse the packaged YAML data files with libyaml's C loader when PyYAML was built with it (several times faster)."""

from __future__ import annotations

from typing import Any

import yaml

# The C loader accepts exactly what the safe loader accepts; PyYAML without libyaml falls back to pure Python.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the safe (no object construction) loader."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader, C or Python
