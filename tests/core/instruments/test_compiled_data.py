"""The precompiled instrument data is current and equals the YAML files; a stale entry is never used."""

from __future__ import annotations

import json
from importlib import resources

from ketaclinic.core.instruments import definitions
from ketaclinic.core.instruments.compile import compiled_data


def test_compiled_copy_is_current() -> None:
    text = resources.files("ketaclinic.core.instruments").joinpath("data", "compiled.json").read_text("utf-8")
    # If this fails, run: python -m ketaclinic.core.instruments.compile
    assert json.loads(text) == json.loads(json.dumps(compiled_data()))


def test_a_stale_entry_is_ignored_and_the_yaml_is_parsed() -> None:
    text = "id: x\nitems: [1, 2]\n"
    assert definitions._parsed("phq9.yaml", text) == {"id": "x", "items": [1, 2]}


def test_every_instrument_from_the_compiled_copy_equals_the_yaml_parse() -> None:
    from ketaclinic.core.yamlfile import load_yaml

    for iid in definitions.INSTRUMENT_IDS:
        name = f"{iid}.yaml"
        text = resources.files("ketaclinic.core.instruments").joinpath("data", name).read_text("utf-8")
        assert definitions.parse_instrument(
            definitions._parsed(name, text), name
        ) == definitions.parse_instrument(load_yaml(text), name)
