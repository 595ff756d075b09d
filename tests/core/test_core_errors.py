"""One error type for core validation: every domain's path-and-reason error is a `CoreValidationError`."""

from __future__ import annotations

import pytest

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.fhir.treatment import TreatmentFhirError
from ketaclinic.core.instruments.scoring import AnswerError
from ketaclinic.core.outcomes.cohort import CohortError
from ketaclinic.core.pain.mme import MmeInputError
from ketaclinic.core.pk.regimen import RegimenError
from ketaclinic.core.protocols import DoseRequestError, ProtocolError, parse_protocol
from ketaclinic.core.surveillance.history import HistoryError
from ketaclinic.core.surveillance.settings import SettingsError
from ketaclinic.core.telehealth.engine import VisitError

DOMAIN_ERRORS = (
    TreatmentFhirError,
    AnswerError,
    CohortError,
    MmeInputError,
    RegimenError,
    DoseRequestError,
    ProtocolError,
    HistoryError,
    SettingsError,
    VisitError,
)


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_every_domain_error_is_the_one_core_error(cls: type[CoreValidationError]) -> None:
    assert issubclass(cls, CoreValidationError) and issubclass(cls, ValueError)
    assert "__init__" not in vars(cls) or cls is AnswerError  # no copy of the field/reason constructor
    exc = cls("doses[1].amount_mg", "must be greater than 0")
    assert (exc.field, exc.path, exc.reason) == (
        "doses[1].amount_mg",
        "doses[1].amount_mg",
        "must be greater than 0",
    )
    assert str(exc) == "doses[1].amount_mg: must be greater than 0"


def test_answer_error_keeps_its_item() -> None:
    exc = AnswerError("item 9", "must be 0 to 3", item=9)
    assert (exc.field, exc.reason, exc.item, str(exc)) == (
        "item 9",
        "must be 0 to 3",
        9,
        "item 9: must be 0 to 3",
    )
    assert AnswerError("answers", "expected 9 answers").item is None


def test_an_engine_raises_it_with_the_path_of_the_bad_field() -> None:
    with pytest.raises(CoreValidationError) as caught:
        parse_protocol({"id": "x"})
    assert type(caught.value) is ProtocolError
    assert caught.value.field and caught.value.reason
    assert str(caught.value) == f"{caught.value.field}: {caught.value.reason}"
