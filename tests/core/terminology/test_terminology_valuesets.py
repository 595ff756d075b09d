"""The value-set data files: every ICD-10-CM root valid with its reviewed title, subtree matching, SNOMED/RxNorm sets."""

from __future__ import annotations

from importlib import resources

import pytest
import simple_icd_10_cm as icd
import yaml

from ketaclinic.core.terminology import icd10cm_normalize, load_terminology


def _data(name: str) -> dict:
    return yaml.safe_load(resources.files("ketaclinic.core.terminology").joinpath("data", name).read_text())


def test_every_icd10cm_root_is_valid_and_titled_as_in_the_classification() -> None:
    data = _data("icd10cm.yaml")
    for vs_id, body in data["value_sets"].items():
        for key in ("include", "exclude"):
            for item in body.get(key, []):
                desc = icd.get_description(item["code"])
                assert desc.split(" (")[0] == item["title"] or desc == item["title"], (
                    vs_id,
                    item["code"],
                    desc,
                )


def test_remission_set_equals_the_classification_titles() -> None:
    derived = {
        d
        for d in icd.get_descendants("F10-F19")
        if "in remission" in icd.get_description(d) and not d.startswith("F17")
    }
    assert set(load_terminology().icd10cm["substance_use_disorder_in_remission"].include) == derived
    assert len(derived) == 27


@pytest.mark.parametrize(
    ("vs", "code", "expected"),
    [
        ("psychotic_disorder", "F20.0", "F20-F29"),
        ("psychotic_disorder", "F29", "F20-F29"),
        ("psychotic_disorder", "F30.2", None),
        ("substance_use_disorder", "F17.210", None),
        ("substance_use_disorder", "F19.959", "F10-F19"),
        ("bipolar_without_psychotic_features", "F31.2", None),
        ("bipolar_without_psychotic_features", "F31.81", "F31"),
        ("aneurysmal_vascular_disease", "I71.010", "I71"),
        ("raised_intracranial_pressure", "S06.1X0A", "S06.1"),
    ],
)
def test_icd10cm_subtree_matching(vs: str, code: str, expected: str | None) -> None:
    m = load_terminology().icd10cm_match(vs, code)
    assert (m.root if m else None) == expected


def test_icd10cm_normalize() -> None:
    assert icd10cm_normalize("i714") == "I71.4"
    assert icd10cm_normalize(" F20.0 ") == "F20.0"
    assert icd10cm_normalize("F20-F29") == "F20-F29"
    assert icd10cm_normalize("I71.99") is None
    assert icd10cm_normalize("") is None


def test_rxnorm_sets_are_disjoint_and_names_match_whole_words() -> None:
    t = load_terminology().rxnorm
    sets = [t[k].codes for k in ("ketamine_esketamine", "maoi", "benzodiazepine", "psychostimulant")]
    assert sum(len(s) for s in sets) == len(set().union(*sets))
    assert t["ketamine_esketamine"].match_name("ESKETAMINE 28 MG nasal spray").name == "esketamine"  # type: ignore[union-attr]
    assert t["ketamine_esketamine"].match_name("ketamine HCl 50 mg/mL").name == "ketamine"  # type: ignore[union-attr]
    assert t["benzodiazepine"].match_name("nitrazepamol") is None
    assert t["maoi"].match_code("8123").name == "phenelzine"  # type: ignore[union-attr]


def test_every_set_has_a_source_and_versions() -> None:
    t = load_terminology()
    assert t.versions == {"icd10cm": "2026.1", "snomed": "2026.1", "rxnorm": "2026.1", "loinc": "2026.1"}
    for table in (t.icd10cm, t.snomed, t.rxnorm):
        assert all(vs.source for vs in table.values())
    assert t.loinc["blood_pressure_panel"] == frozenset({"85354-9", "55284-4"})


def test_substance_induced_psychosis_set_equals_every_induced_psychosis_category() -> None:
    derived = {
        d
        for d in icd.get_descendants("F10-F19")
        if len(d) == 6 and d[4:6] in ("15", "25", "95") and "psychotic" in icd.get_description(d)
    }
    assert set(load_terminology().icd10cm["substance_induced_psychosis"].include) == derived
    assert len(derived) == 27  # nine substance classes (nicotine has none) x abuse, dependence, use


def test_new_rxnorm_sets_are_disjoint_from_the_others_and_match_by_name_only_when_uncoded() -> None:
    t = load_terminology().rxnorm
    keys = (
        "ketamine_esketamine",
        "maoi",
        "benzodiazepine",
        "psychostimulant",
        "cns_depressant",
        "lamotrigine",
    )
    sets = [t[k].codes for k in keys]
    assert sum(len(s) for s in sets) == len(set().union(*sets))
    zopiclone = t["cns_depressant"].match_name("Zopiclone 7.5 mg tablet")
    assert zopiclone is not None and zopiclone.code is None
    assert t["cns_depressant"].match_name("sodium oxybate oral solution").name == "sodium oxybate"  # type: ignore[union-attr]
    assert t["cns_depressant"].match_code("39993").name == "zolpidem"  # type: ignore[union-attr]
    assert t["lamotrigine"].match_name("LamoTRIgine 25 MG Oral Tablet").name == "lamotrigine"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "pregnant"),
    [("O99.342", True), ("O99.344", False), ("O99.345", False), ("O94", False), ("O31.10X0", True)],
)
def test_pregnancy_title_exclusions(code: str, pregnant: bool) -> None:
    assert (load_terminology().icd10cm_match("pregnancy", code) is not None) is pregnant
