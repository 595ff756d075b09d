"""Protocol library data: every packaged file loads, carries sources, and malformed data fails loudly."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ketaclinic.core.protocols import ProtocolError, get_protocol, load_protocols, parse_protocol
from ketaclinic.core.protocols.monitoring import monitoring_rules, parse_monitoring_rules
from ketaclinic.core.protocols.settings import guard_settings, parse_guard_settings


def test_library_has_the_protocols() -> None:
    assert [p.id for p in load_protocols()] == [
        "esketamine-mdd-si",
        "esketamine-trd",
        "im-ketamine-depression",
        "iv-ketamine-chronic-pain",
        "iv-ketamine-pain-single",
        "iv-racemic-depression",
        "oral-sublingual-compounded",
    ]


def test_key_numbers_match_the_reference() -> None:
    iv = get_protocol("iv-racemic-depression")
    assert (iv.dose.default.value, iv.infusion.default_duration_min.value) == (0.5, 40)  # type: ignore[union-attr]
    assert iv.dose.warn_above.value == 0.75  # type: ignore[union-attr]
    esk = get_protocol("esketamine-trd")
    assert esk.device_mg.value == 28  # type: ignore[union-attr]
    assert (esk.dose.first_dose_max_mg.value, esk.dose.block_above.value) == (56, 84)  # type: ignore[union-attr]
    assert [(p.from_week, p.to_week, p.max_doses_per_7_days) for p in esk.phases] == [
        (1, 4, 2),
        (5, 8, 1),
        (9, None, 1),
    ]
    assert esk.discharge.min_minutes_after_first_dose.value == 120  # type: ignore[union-attr]
    assert esk.pre_dose.rems_enrolment_required is True
    si = get_protocol("esketamine-mdd-si")
    assert si.dose.default.value == 84 and si.course_max_weeks.value == 4  # type: ignore[union-attr]
    pain = get_protocol("iv-ketamine-chronic-pain")
    assert pain.infusion.bolus_block_above_mg_per_kg.value == 0.35  # type: ignore[union-attr]
    assert pain.infusion.rate_block_above_mg_per_kg_h.value == 2.0  # type: ignore[union-attr]
    single = get_protocol("iv-ketamine-pain-single")
    assert (single.dose.default.value, single.infusion.default_duration_min.value) == (1.0, 120)  # type: ignore[union-attr]
    assert (
        single.infusion.session_max_mg_per_kg.value,  # type: ignore[union-attr]
        single.infusion.max_duration_min.value,  # type: ignore[union-attr]
        single.infusion.rate_block_above_mg_per_kg_h.value,  # type: ignore[union-attr]
        single.interval.warn_below_hours.value,  # type: ignore[union-attr]
    ) == (2.0, 300, 2.0, 168)


def _walk_sourced(node: Any, path: str = "") -> list[str]:
    """Paths of every mapping that has a `value` but no source/evidence."""
    bad: list[str] = []
    if isinstance(node, dict):
        if "value" in node and not ("source" in node and node.get("evidence") in ("V", "S", "R")):
            bad.append(path)
        keyed = {"window_days", "max_doses_per_7_days", "every_min", "at_min"} & set(node)
        if keyed and not node.get("source"):
            bad.append(path)
        for k, v in node.items():
            bad += _walk_sourced(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            bad += _walk_sourced(v, f"{path}[{i}]")
    return bad


def test_every_number_carries_a_source_and_evidence_tag() -> None:
    for p in load_protocols():
        assert _walk_sourced(dict(p.raw)) == [], p.id


def test_default_doses_pass_their_own_guard() -> None:
    from datetime import UTC, datetime

    from ketaclinic.core.protocols import Dose, DoseRequest, PatientFacts, check_dose

    for p in load_protocols():
        proposed = Dose(
            time=datetime(2025, 1, 6, 9, tzinfo=UTC),
            drug=p.drug,
            route=p.routes[0],
            dose_mg=p.default_dose_mg(70.0),
        )
        r = check_dose(DoseRequest(PatientFacts(70.0), p.id, (), proposed), p)
        assert r.decision == "allow", (p.id, r)


def _raw(pid: str = "iv-racemic-depression") -> dict[str, Any]:
    return copy.deepcopy(dict(get_protocol(pid).raw))


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("id"), "id"),
        (lambda d: d.update(drug="morphine"), "drug"),
        (lambda d: d.update(routes=["iv", "rectal"]), "routes[1]"),
        (lambda d: d["dose"].update(basis="per_m2"), "dose.basis"),
        (lambda d: d["dose"]["default"].pop("source"), "dose.default.source"),
        (lambda d: d["dose"]["default"].update(evidence="X"), "dose.default.evidence"),
        (lambda d: d["dose"]["default"].update(value=-1), "dose.default.value"),
        (lambda d: d["dose"]["warn_above"].update(value=2.0), "dose.warn_above.value"),
        (lambda d: d["cumulative"][0].update(max_mg=100), "cumulative[0]"),
        (lambda d: d["cumulative"][0].update(level="stop"), "cumulative[0].level"),
        (lambda d: d["monitoring"][0].update(what="eeg"), "monitoring[0].what"),
        (lambda d: d["pre_dose"].update(rems_enrolment_required=True), "pre_dose.rems_enrolment_required"),
        (lambda d: d.update(version=0), "version"),
    ],
)
def test_malformed_protocol_names_the_field(mutate: Any, path: str) -> None:
    d = _raw()
    mutate(d)
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(d)
    assert exc.value.path == path


def test_device_protocol_default_must_be_a_device_multiple() -> None:
    d = _raw("esketamine-trd")
    d["dose"]["default"]["value"] = 50
    with pytest.raises(ProtocolError) as exc:
        parse_protocol(d)
    assert exc.value.path == "dose.default.value"


def test_clinic_defined_protocol_round_trips() -> None:
    d = _raw("oral-sublingual-compounded")
    d["id"] = "clinic-7-sublingual"
    d["dose"]["warn_above"]["value"] = 2.0
    p = parse_protocol(d)
    assert (p.id, p.clinic_defined, p.dose.warn_above.value) == ("clinic-7-sublingual", True, 2.0)  # type: ignore[union-attr]


def test_guard_and_monitoring_settings_load_and_validate() -> None:
    s = guard_settings()
    assert (
        s.weight_block_below.value,
        s.weight_warn_below.value,
        s.weight_warn_above.value,
        s.weight_block_above.value,
    ) == (30, 40, 200, 300)
    assert s.order_tolerance_pct.value == 5
    with pytest.raises(ProtocolError) as exc:
        parse_guard_settings({"weight_kg": {}, "order_tolerance": {}, "escalation": {}})
    assert exc.value.path == "weight_kg.block_below"
    rules = monitoring_rules()
    assert [r.code for r in rules.during if r.pause_infusion] == [
        "sbp_high",
        "dbp_high",
        "hr_high",
        "spo2_low",
        "rr_low",
    ]
    with pytest.raises(ProtocolError) as exc:
        parse_monitoring_rules(
            {"version": 1, "during": [{"code": "x", "vital": "temp", "op": "gt", "value": 1}]}
        )
    assert exc.value.path == "during[0].vital"
