"""Parse the packaged YAML data files with libyaml's C loader when PyYAML was built with it (several times faster)."""

from __future__ import annotations

from typing import Any


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the safe (no object construction) loader. PyYAML is imported on first use,
    so a caller that reads only precompiled data never pays for it."""
    import yaml

    # The C loader accepts exactly what the safe loader accepts; without libyaml, the pure-Python one.
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader, C or Python
