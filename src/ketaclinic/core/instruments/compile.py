"""Write data/compiled.json: every instrument YAML file parsed, with the SHA-256 of the text it came from.

Run after editing an instrument file: `python -m ketaclinic.core.instruments.compile`. The loader uses a
compiled entry only when its hash matches the file, so a stale copy is never used (it is only slower), and
tests/core/instruments/test_compiled_data.py fails until the copy is refreshed.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from ketaclinic.core.instruments.definitions import COMPILED, INSTRUMENT_IDS
from ketaclinic.core.yamlfile import load_yaml


def compiled_data() -> dict[str, Any]:
    data = resources.files("ketaclinic.core.instruments").joinpath("data")
    out: dict[str, Any] = {}
    for iid in INSTRUMENT_IDS:
        name = f"{iid}.yaml"
        text = data.joinpath(name).read_text(encoding="utf-8")
        out[name] = {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "content": load_yaml(text)}
    return out


def main() -> None:
    path = Path(str(resources.files("ketaclinic.core.instruments").joinpath("data", COMPILED)))
    path.write_text(json.dumps(compiled_data(), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
