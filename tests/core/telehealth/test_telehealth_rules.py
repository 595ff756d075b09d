"""Telehealth jurisdiction rules: exact decisions and findings per jurisdiction, flexibility dates, clinic tightening."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.telehealth import (
    ClinicPolicy,
    RuleSetError,
    Visit,
    VisitError,
    evaluate,
    load_rules,
    parse_policy,
    parse_rules,
    parse_visit,
)
from ketaclinic.core.telehealth.engine import ACTIVITIES, DRUGS, LEVELS, MODALITIES

TODAY = date(2026, 12, 2)


def visit(**kw: Any) -> Visit:
    base: dict[str, Any] = {
        "on": TODAY,
        "modality": "video",
        "jurisdiction": "US-CA",
        "activity": "prescribe",
        "drug": "ketamine",
        "clinician_jurisdictions": frozenset({"US-CA"}),
        "telehealth_consent": True,
    }
    base.update(kw)
    return Visit(**base)


def codes(v: Visit, policy: ClinicPolicy | None = None) -> tuple[str, list[tuple[str, str]]]:
    r = evaluate(v, policy=policy)
    return r.decision, [(f.code, f.level) for f in r.findings]


# ---------------------------------------------------------------------------------------- United States


def test_us_video_prescribing_without_evaluation_relies_on_the_flexibility_until_its_end() -> None:
    assert codes(visit()) == (
        "allowed",
        [("dea_telemedicine_flexibility", "info"), ("us_state_pdmp_check", "info")],
    )
    assert codes(visit(on=date(2026, 12, 31)))[0] == "allowed"


def test_us_flexibility_ends_after_31_december_2026() -> None:
    assert codes(visit(on=date(2027, 1, 1))) == (
        "not_allowed",
        [("ryan_haight_in_person_evaluation", "block"), ("us_state_pdmp_check", "info")],
    )


def test_us_telephone_is_not_covered_by_the_flexibility() -> None:
    assert codes(visit(modality="telephone")) == (
        "not_allowed",
        [("ryan_haight_in_person_evaluation", "block"), ("us_state_pdmp_check", "info")],
    )


def test_us_in_person_evaluation_on_file_allows_remote_prescribing_after_the_flexibility() -> None:
    v = visit(on=date(2027, 3, 1), modality="telephone", in_person_evaluations=(date(2024, 5, 1),))
    assert codes(v) == ("allowed", [("us_state_pdmp_check", "info")])


def test_an_evaluation_after_the_visit_does_not_count() -> None:
    v = visit(on=date(2027, 3, 1), in_person_evaluations=(date(2027, 3, 2),))
    assert codes(v)[1][0] == ("ryan_haight_in_person_evaluation", "block")


def test_esketamine_is_never_given_at_a_remote_visit() -> None:
    assert codes(visit(activity="administer", drug="esketamine")) == (
        "not_allowed",
        [("esketamine_rems_certified_setting", "block"), ("supervised_administration_only", "block")],
    )
    assert codes(visit(activity="administer", drug="ketamine")) == (
        "not_allowed",
        [("supervised_administration_only", "block")],
    )


def test_esketamine_in_person_in_the_clinic_is_allowed_without_findings() -> None:
    assert codes(visit(modality="in_person", activity="administer", drug="esketamine")) == ("allowed", [])


def test_us_licensure_is_per_state() -> None:
    assert codes(visit(jurisdiction="US-NY", activity="therapy", drug=None)) == (
        "not_allowed",
        [("us_state_licensure", "block")],
    )
    assert codes(visit(activity="therapy", drug=None, clinician_jurisdictions=None)) == (
        "needs_review",
        [("us_state_licensure_unconfirmed", "review")],
    )
    assert codes(
        visit(
            jurisdiction="US-NY",
            activity="therapy",
            drug=None,
            clinician_jurisdictions=frozenset({"US-CA", "US-NY"}),
        )
    ) == ("allowed", [])


def test_missing_consent_needs_review_and_a_clinic_can_require_it() -> None:
    assert codes(visit(activity="follow_up", drug=None, telehealth_consent=False)) == (
        "needs_review",
        [("telehealth_consent_missing", "review")],
    )
    assert codes(
        visit(activity="follow_up", drug=None, telehealth_consent=False),
        ClinicPolicy(require_telehealth_consent=True),
    ) == ("not_allowed", [("telehealth_consent_missing", "block")])


# ---------------------------------------------------------------------------------------- UK and Australia


def test_uk_remote_controlled_drug_prescribing_needs_records_access() -> None:
    base = {"jurisdiction": "UK", "clinician_jurisdictions": frozenset({"UK"})}
    assert codes(visit(**base, records_access=False)) == (
        "not_allowed",
        [("uk_remote_controlled_drug_records", "block")],
    )
    assert codes(visit(**base, records_access=None)) == (
        "needs_review",
        [("uk_remote_controlled_drug_records_unconfirmed", "review")],
    )
    assert codes(visit(**base, records_access=True)) == ("allowed", [])
    # No DEA flexibility or Ryan Haight rule outside the US.
    assert codes(visit(**base, records_access=True, on=date(2027, 6, 1), modality="telephone")) == (
        "allowed",
        [],
    )


def test_uk_registration_not_a_us_licence() -> None:
    assert codes(visit(jurisdiction="UK", activity="therapy", drug=None)) == (
        "not_allowed",
        [("uk_registration", "block")],
    )


def test_australian_registration_is_national_and_s8_prescribing_needs_review() -> None:
    v = visit(jurisdiction="AU-NSW", clinician_jurisdictions=frozenset({"AU-VIC"}), modality="telephone")
    assert codes(v) == ("needs_review", [("au_s8_state_authority", "review"), ("au_video_preferred", "info")])
    assert codes(
        visit(
            jurisdiction="AU-QLD",
            clinician_jurisdictions=frozenset({"AU-QLD"}),
            activity="therapy",
            drug=None,
        )
    ) == ("allowed", [])


# ---------------------------------------------------------------------------------------- clinic tightening


def test_clinic_that_does_not_rely_on_flexibilities_blocks_remote_first_prescriptions() -> None:
    assert codes(visit(), ClinicPolicy(rely_on_flexibilities=False)) == (
        "not_allowed",
        [("ryan_haight_in_person_evaluation", "block"), ("us_state_pdmp_check", "info")],
    )


def test_clinic_in_person_evaluation_within_12_months_before_the_first_dose() -> None:
    policy = ClinicPolicy(in_person_evaluation_within_days=365)
    first = date(2026, 12, 10)
    ok = visit(
        modality="in_person",
        activity="administer",
        first_dose_on=first,
        in_person_evaluations=(date(2025, 12, 10),),
    )
    assert codes(ok, policy) == ("allowed", [])
    late = visit(
        modality="in_person",
        activity="administer",
        first_dose_on=first,
        in_person_evaluations=(date(2025, 12, 9),),
    )
    r = evaluate(late, policy=policy)
    assert r.decision == "not_allowed"
    assert [(f.code, f.level, f.message) for f in r.findings] == [
        (
            "clinic_in_person_evaluation_window",
            "block",
            "An in-person evaluation within 365 days before the first dose (2026-12-10) is required",
        )
    ]
    assert r.findings[0].source.startswith("Clinic policy")
    # Without a first dose yet, the visit's own date is the first dose.
    assert codes(visit(in_person_evaluations=(date(2026, 1, 5),)), policy) == (
        "allowed",
        [("us_state_pdmp_check", "info")],
    )
    # Therapy sessions are not dosing: the window does not apply.
    assert codes(visit(activity="therapy", drug=None), policy) == ("allowed", [])


def test_clinic_can_withdraw_telephone_visits() -> None:
    assert codes(
        visit(activity="therapy", drug=None, modality="telephone"),
        ClinicPolicy(remote_modalities=frozenset({"video"})),
    ) == (
        "not_allowed",
        [("clinic_modality_not_offered", "block")],
    )


_SEVERITY = {"allowed": 0, "needs_review": 1, "not_allowed": 2}
_LEVEL = {"info": 0, "review": 1, "block": 2}

visits = st.builds(
    Visit,
    on=st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 12, 31)),
    modality=st.sampled_from(MODALITIES),
    jurisdiction=st.sampled_from(["US-CA", "US-NY", "UK", "AU-NSW", "AU-VIC"]),
    activity=st.sampled_from(ACTIVITIES),
    drug=st.sampled_from((None, *DRUGS)),
    in_person_evaluations=st.lists(
        st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 12, 31)), max_size=2
    ).map(lambda d: tuple(sorted(d))),
    first_dose_on=st.none() | st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 12, 31)),
    clinician_jurisdictions=st.none()
    | st.frozensets(st.sampled_from(["US-CA", "US-NY", "UK", "AU-VIC"]), max_size=2),
    records_access=st.sampled_from((None, True, False)),
    telehealth_consent=st.booleans(),
)
policies = st.builds(
    ClinicPolicy,
    in_person_evaluation_within_days=st.none() | st.integers(1, 800),
    rely_on_flexibilities=st.booleans(),
    remote_modalities=st.frozensets(st.sampled_from(("video", "telephone"))),
    require_telehealth_consent=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(visits, policies)
def test_a_clinic_policy_only_tightens(v: Visit, policy: ClinicPolicy) -> None:
    base = evaluate(v)
    tight = evaluate(v, policy=policy)
    assert _SEVERITY[tight.decision] >= _SEVERITY[base.decision]
    tight_levels = {f.code: _LEVEL[f.level] for f in tight.findings}
    for f in base.findings:
        if f.code == "dea_telemedicine_flexibility":  # replaced by the block it exempted from
            assert (
                "dea_telemedicine_flexibility" in tight_levels
                or "ryan_haight_in_person_evaluation" in tight_levels
            )
            continue
        assert tight_levels[f.code] >= _LEVEL[f.level]


def test_trace_lists_every_rule_and_why() -> None:
    r = evaluate(visit(jurisdiction="UK", clinician_jurisdictions=frozenset({"UK"}), records_access=True))
    rules = load_rules()
    assert [t.code for t in r.trace] == [x.code for x in rules.rules] + ["clinic_modality_not_offered"]
    by_code = {t.code: t for t in r.trace}
    assert by_code["ryan_haight_in_person_evaluation"].applied is False
    assert by_code["ryan_haight_in_person_evaluation"].detail == "does not apply in UK"
    assert (
        by_code["uk_remote_controlled_drug_records"].detail == "prescriber has access to the medical records"
    )
    record = r.to_record()
    assert record["ruleset"] == rules.version and record["policy"]["rely_on_flexibilities"] is True


# ---------------------------------------------------------------------------------------- data and input


def test_packaged_rules_have_sources_and_a_version() -> None:
    rules = load_rules()
    assert rules.version == "2026.1.0"
    assert all(r.source and r.message and r.level in LEVELS for r in rules.rules)
    flex = rules.rule("ryan_haight_in_person_evaluation").flexibility
    assert flex is not None and (flex.until, flex.modalities) == (date(2026, 12, 31), ("video",))
    assert "90 FR 61301" in flex.source


def _raw_rules() -> dict[str, Any]:
    from importlib import resources

    text = (
        resources.files("ketaclinic.core.telehealth")
        .joinpath("data", "rules.yaml")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["rules"][0].pop("source"),
            "rules[0] (esketamine_rems_certified_setting).source: required non-empty string",
        ),
        (
            lambda d: d["rules"][0].update(level="stop"),
            "rules[0] (esketamine_rems_certified_setting).level: 'stop' is not one of block, review, info",
        ),
        (lambda d: d["rules"][0].update(kind="magic"), ".kind: 'magic' is not a known rule kind"),
        (lambda d: d["rules"][0].update(jurisdictions=["FR"]), ".jurisdictions: required list"),
        (lambda d: d["rules"][2]["flexibility"].update(until="2019-01-01"), "flexibility.until: before from"),
        (lambda d: d["rules"][3].pop("unknown_level"), "(us_state_licensure).unknown_level: required"),
        (lambda d: d["rules"].append(copy.deepcopy(d["rules"][0])), ".code: duplicate"),
    ],
)
def test_malformed_rules_name_the_field(mutate: Any, message: str) -> None:
    data = _raw_rules()
    mutate(data)
    with pytest.raises(RuleSetError, match=None) as exc:
        parse_rules(data)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"on": "2026-13-01"}, "on"),
        ({"on": None}, "on"),
        ({"modality": "email"}, "modality"),
        ({"jurisdiction": "FR"}, "jurisdiction"),
        ({"jurisdiction": "AU-XYZ"}, "jurisdiction"),
        ({"activity": "ship"}, "activity"),
        ({"drug": "morphine"}, "drug"),
        ({"in_person_evaluations": ["2026-01-01", "soon"]}, "in_person_evaluations[1]"),
        ({"clinician_jurisdictions": ["US-CA", "Mars"]}, "clinician_jurisdictions"),
        ({"records_access": "yes"}, "records_access"),
    ],
)
def test_bad_visit_input_names_the_field(patch: dict[str, Any], field: str) -> None:
    data = {"on": "2026-12-02", "modality": "video", "jurisdiction": "US-CA", "activity": "prescribe"}
    data.update(patch)
    with pytest.raises(VisitError) as exc:
        parse_visit(data)
    assert exc.value.field == field


def test_policy_parsing() -> None:
    assert parse_policy(None) == ClinicPolicy()
    assert parse_policy(
        {"in_person_evaluation_within_days": 365, "remote_modalities": ["video"]}
    ) == ClinicPolicy(in_person_evaluation_within_days=365, remote_modalities=frozenset({"video"}))
    for bad, field in [
        ({"in_person_evaluation_within_days": 0}, "policy.in_person_evaluation_within_days"),
        ({"rely_on_flexibilities": "no"}, "policy.rely_on_flexibilities"),
        ({"remote_modalities": ["fax"]}, "policy.remote_modalities"),
        ({"loosen": True}, "policy.loosen"),
    ]:
        with pytest.raises(VisitError) as exc:
            parse_policy(bad)
        assert exc.value.field == field
