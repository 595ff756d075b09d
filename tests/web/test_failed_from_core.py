"""The web layer turns any core validation error into one field error the same way."""

from __future__ import annotations

from ketaclinic.core.protocols import DoseRequestError
from ketaclinic.core.telehealth.engine import VisitError
from ketaclinic.web.lib.errors import ValidationFailed, failed_from_core


def test_failed_from_core_keeps_the_path_and_reason() -> None:
    err = failed_from_core(DoseRequestError("history[2].time", "must include a timezone"))
    assert isinstance(err, ValidationFailed) and err.status == 400
    assert err.fields == {"history[2].time": ["must include a timezone"]}
    assert err.message == "history[2].time: must include a timezone"


def test_failed_from_core_names_the_form_field_when_given() -> None:
    err = failed_from_core(VisitError("policy.max_days", "must be a whole number"), field="max_days")
    assert err.fields == {"max_days": ["must be a whole number"]}
    assert err.as_dict() == {
        "error": {
            "code": "validation_failed",
            "message": "max_days: must be a whole number",
            "fields": {"max_days": ["must be a whole number"]},
        }
    }
