"""Reading validation: LOINC metric, UCUM unit, plausibility, clock skew, FHIR Observation mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketaclinic.core.monitoring import FieldError, Reading, compact_from_observation, validate_compact

NOW = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)


def _item(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "device": "dev-1",
        "session": "42",
        "metric": "8480-6",
        "value": 128,
        "unit": "mm[Hg]",
        "time": "2025-03-01T09:59:58Z",
        "seq": 7,
    }
    base.update(over)
    return base


def test_valid_reading_is_canonical() -> None:
    r = validate_compact(_item(), now=NOW)
    assert r == Reading(
        device="dev-1",
        session="42",
        metric="sbp",
        code="8480-6",
        value=128.0,
        unit="mm[Hg]",
        time=datetime(2025, 3, 1, 9, 59, 58, tzinfo=UTC),
        seq=7,
    )


def test_fahrenheit_is_converted_to_celsius() -> None:
    r = validate_compact(_item(metric="8310-5", value=98.6, unit="[degF]"), now=NOW)
    assert isinstance(r, Reading)
    assert r.metric == "temp"
    assert r.unit == "Cel"
    assert r.value == pytest.approx(37.0)


@pytest.mark.parametrize("code", ["59408-5", "2708-6"])
def test_both_spo2_codes_map_to_spo2(code: str) -> None:
    r = validate_compact(_item(metric=code, value=97, unit="%"), now=NOW)
    assert isinstance(r, Reading)
    assert (r.metric, r.code) == ("spo2", code)


def test_integer_device_and_session_ids_are_accepted() -> None:
    r = validate_compact(_item(device=5, session=9), now=NOW)
    assert isinstance(r, Reading)
    assert (r.device, r.session) == ("5", "9")


@pytest.mark.parametrize(
    ("over", "field", "fragment"),
    [
        ({"metric": "1234-5"}, "metric", "unknown LOINC code '1234-5'"),
        ({"unit": "mmHg"}, "unit", "did you mean 'mm[Hg]'?"),
        ({"metric": "8867-4", "unit": "bpm", "value": 80}, "unit", "did you mean '/min'?"),
        ({"value": "128"}, "value", "a number"),
        ({"value": True}, "value", "a number"),
        ({"value": float("nan")}, "value", "finite"),
        (
            {"value": 400},
            "value",
            "400 mm[Hg] is outside the plausible range for Systolic blood pressure (40–300",
        ),
        ({"metric": "59408-5", "unit": "%", "value": 101}, "value", "outside the plausible range"),
        ({"metric": "8310-5", "unit": "[degF]", "value": 120}, "value", "48.8889 Cel is outside"),
        ({"time": "2025-03-01T10:00:06Z"}, "time", "in the future (more than 5 s ahead)"),
        ({"time": "2025-03-01T10:00:00"}, "time", "with a UTC offset"),
        ({"time": "yesterday"}, "time", "ISO 8601"),
        ({"time": "2025-02-27T09:59:59Z"}, "time", "older than 24 h"),
        ({"seq": -1}, "seq", "non-negative integer"),
        ({"seq": "7"}, "seq", "non-negative integer"),
        ({"device": ""}, "device", "required"),
        ({"session": None}, "session", "required"),
    ],
)
def test_each_bad_field_is_named(over: dict[str, object], field: str, fragment: str) -> None:
    r = validate_compact(_item(**over), now=NOW)
    assert isinstance(r, list)
    assert [e.field for e in r] == [field]
    assert fragment in r[0].message


def test_time_within_clock_skew_is_accepted() -> None:
    r = validate_compact(_item(time="2025-03-01T10:00:05Z"), now=NOW)
    assert isinstance(r, Reading)


def test_custom_skew_and_no_max_age() -> None:
    r = validate_compact(
        _item(time="2024-01-01T00:00:00+02:00"), now=NOW, max_future_skew=timedelta(0), max_age=None
    )
    assert isinstance(r, Reading)
    assert r.time == datetime(2023, 12, 31, 22, 0, tzinfo=UTC)


def test_all_errors_are_reported_together() -> None:
    r = validate_compact({"value": "x"}, now=NOW)
    assert isinstance(r, list)
    assert [e.field for e in r] == ["device", "session", "seq", "metric", "value", "time"]


def test_non_object_reading() -> None:
    assert validate_compact([1, 2], now=NOW) == [FieldError("reading", "must be a JSON object")]


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_compact(_item(), now=datetime(2025, 3, 1))


def _obs(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "device": {"reference": "Device/dev-1"},
        "encounter": {"reference": "Encounter/42"},
        "identifier": [{"system": "urn:ketaclinic:device-seq", "value": "19"}],
        "effectiveDateTime": "2025-03-01T09:59:00Z",
        "valueQuantity": {
            "value": 88,
            "unit": "beats/minute",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }
    base.update(over)
    return base


def test_fhir_observation_maps_to_compact() -> None:
    out = compact_from_observation(_obs())
    assert out == [
        {
            "device": "dev-1",
            "session": "42",
            "seq": 19,
            "time": "2025-03-01T09:59:00Z",
            "metric": "8867-4",
            "value": 88,
            "unit": "/min",
        }
    ]
    r = validate_compact(out[0], now=NOW)
    assert isinstance(r, Reading)
    assert (r.metric, r.value) == ("hr", 88.0)


def test_fhir_bp_panel_gives_two_readings() -> None:
    q = {"system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    obs = _obs(
        code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        valueQuantity=None,
        component=[
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {**q, "value": 141},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {**q, "value": 92},
            },
        ],
    )
    out = compact_from_observation(obs)
    assert [(o["metric"], o["value"], o["unit"], o["seq"]) for o in out] == [  # type: ignore[index]
        ("8480-6", 141, "mm[Hg]", 19),
        ("8462-4", 92, "mm[Hg]", 19),
    ]


def test_fhir_observation_errors_use_fhir_paths() -> None:
    out = compact_from_observation(
        _obs(device=None, encounter={"reference": "Patient/1"}, identifier=[], status="registered")
    )
    assert out == [
        FieldError("Observation.status", "must be final, amended, corrected or preliminary"),
        FieldError("Observation.device", "required: a reference Device/<id>"),
        FieldError("Observation.encounter", "required: a reference Encounter/<session id>"),
        FieldError("Observation.identifier", "required: an identifier with system urn:ketaclinic:device-seq"),
    ]
    assert compact_from_observation({"resourceType": "Patient"}) == [
        FieldError("resourceType", "must be 'Observation'")
    ]
