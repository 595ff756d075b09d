"""Decision paths, ordering, the full trace, and the rule-set loader's validation."""

from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml
from screening_helpers import ON, allergy, bp, bundle, codes, condition, med, run

from ketaclinic.core.fhir.intake import parse_bundle
from ketaclinic.core.screening import RuleSetError, decide, load_ruleset, parse_ruleset, screen
from ketaclinic.core.screening.engine import Finding

CONTRACT = {
    "hypersensitivity": "absolute",
    "aneurysmal_vascular_disease": "absolute",
    "intracranial_hemorrhage_history": "absolute",
    "psychotic_disorder": "absolute",
    "severe_hypertension": "absolute",
    "elevated_blood_pressure": "relative",
    "blood_pressure_missing": "relative",
    "weight_missing": "relative",
    "psychotic_features_history": "relative",
    "substance_use_disorder_active": "relative",
    "pregnancy": "relative",
    "severe_hepatic_impairment": "relative",
    "raised_intracranial_pressure": "relative",
    "raised_intraocular_pressure": "relative",
    "unstable_cardiovascular_disease": "relative",
    "hyperthyroidism": "relative",
    "maoi_use": "relative",
    "age_under_18": "relative",
    "substance_use_disorder_in_remission": "caution",
    "mania_risk": "caution",
    "benzodiazepine_use": "caution",
    "psychostimulant_use": "caution",
    "traumatic_intracranial_hemorrhage": "relative",
    "breastfeeding": "relative",
    "current_mania": "relative",
    "substance_induced_psychosis": "relative",
    "bladder_disease": "relative",
    "cns_depressant_use": "caution",
    "lamotrigine_use": "caution",
}


def test_ruleset_covers_the_contract_table_with_exact_levels() -> None:
    rs = load_ruleset()
    levels = {r.code: r.level for r in rs.rules}
    for code, level in CONTRACT.items():
        assert levels[code] == level, code
    assert set(levels) - set(CONTRACT) == {"unrecognized_code", "birth_date_missing"}
    assert all(r.source for r in rs.rules)
    assert rs.version == "2026.1.0"


def test_decide() -> None:
    def f(level: str) -> Finding:
        return Finding("x", level, "m", (), "s")  # type: ignore[arg-type]

    assert decide([]) == "eligible"
    assert decide([f("caution"), f("caution")]) == "eligible"
    assert decide([f("caution"), f("relative")]) == "needs_review"
    assert decide([f("relative"), f("absolute"), f("caution")]) == "ineligible"


def test_every_decision_path_end_to_end() -> None:
    assert run().decision == "eligible"
    assert run(med("m1", code="596")).decision == "eligible"  # caution only
    assert run(condition("c1", "K74.60")).decision == "needs_review"
    assert run(condition("c1", "K74.60"), allergy("a1")).decision == "ineligible"


def test_findings_follow_rule_order_and_combine() -> None:
    r = run(
        med("m1", code="8123"),
        condition("c2", "F31.9"),
        bp("bp1", 185, 100),
        allergy("a1"),
        condition("c1", "F20.0"),
        route="intranasal",
    )
    assert codes(r) == [
        "hypersensitivity",
        "psychotic_disorder",
        "severe_hypertension",
        "maoi_use",
        "mania_risk",
    ]
    assert r.decision == "ineligible"


def test_trace_records_every_rule() -> None:
    r = run(condition("c1", "K74.60", clinical="resolved"))
    assert [t.code for t in r.trace] == [rule.code for rule in load_ruleset().rules]
    t = next(t for t in r.trace if t.code == "severe_hepatic_impairment")
    assert (t.fired, t.considered, t.detail) == (
        False,
        ("Condition/c1",),
        "matching conditions not in status 'active'",
    )
    rec = r.to_record()
    assert rec["on"] == "2025-06-15" and rec["route"] == "iv" and len(rec["trace"]) == len(r.trace)
    assert set(r.to_contract()) == {"decision", "findings", "ruleset"}


def test_custom_ruleset_thresholds_are_data() -> None:
    data = yaml.safe_load(
        resources.files("ketaclinic.core.screening").joinpath("data", "ruleset.yaml").read_text()
    )
    custom = copy.deepcopy(data)
    for rule in custom["rules"]:
        if rule["code"] == "elevated_blood_pressure":
            rule["params"]["systolic_at_least"] = 160
    custom["version"] = "test-1"
    rs = parse_ruleset(custom)
    r = screen(parse_bundle(bundle(bp("bp1", 150, 80))), on=ON, ruleset=rs)
    assert (r.decision, r.ruleset_version, r.findings) == ("eligible", "test-1", ())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("version"), "x: version: required string"),
        (
            lambda d: d["rules"][0].update(level="forbidden"),
            "x: rules[0] (hypersensitivity).level: 'forbidden' is not one of absolute, relative, caution",
        ),
        (
            lambda d: d["rules"][1].update(value_sets=["icd10cm:nope"]),
            "x: rules[1] (aneurysmal_vascular_disease).value_sets: unknown value set 'icd10cm:nope'",
        ),
        (
            lambda d: d["rules"][5]["params"].pop("window_days"),
            "x: rules[5] (severe_hypertension).params.window_days: required non-negative integer",
        ),
        (
            lambda d: d["rules"][1].update(status="sometimes"),
            "x: rules[1] (aneurysmal_vascular_disease).status: 'sometimes' is not one of ['active', 'active_not_remission', 'any', 'remission']",
        ),
        (
            lambda d: d["rules"][2].update(code="hypersensitivity"),
            "x: rules[2] (hypersensitivity).code: duplicate",
        ),
        (lambda d: d["rules"][0].pop("source"), "x: rules[0].source: required non-empty string"),
        (
            lambda d: d["rules"][8]["params"].update(routes=["rectal"]),
            "x: rules[8] (weight_missing).params.routes: required list of routes from iv, intranasal, im, oral",
        ),
    ],
)
def test_malformed_ruleset_fails_loudly(mutate: object, message: str) -> None:
    data = yaml.safe_load(
        resources.files("ketaclinic.core.screening").joinpath("data", "ruleset.yaml").read_text()
    )
    mutate(data)  # type: ignore[operator]
    with pytest.raises(RuleSetError) as exc:
        parse_ruleset(data, name="x")
    assert str(exc.value) == message


def test_unknown_route_is_rejected() -> None:
    with pytest.raises(ValueError, match="route: 'rectal' is not one of iv, intranasal, im, oral"):
        screen(parse_bundle(bundle()), on=ON, route="rectal")  # type: ignore[arg-type]
