"""Writes of the screening domain: intake entry and import, automatic re-screening, review/override, consent.

One module per topic; this package re-exports every public name, so `from ketaclinic.web.screening.actions import name` keeps working.
"""

from __future__ import annotations

from ketaclinic.web.screening.actions.common import build_bundle
from ketaclinic.web.screening.actions.consent import (
    approvals,
    do_record_consent,
    off_label_notice,
    validate_approvals,
)
from ketaclinic.web.screening.actions.intake import (
    CLINICAL_STATUSES,
    CONDITION_SYSTEMS,
    MEDICATION_STATUSES,
    VERIFICATION_STATUSES,
    do_import_bundle,
    do_record_allergy,
    do_record_condition,
    do_record_medication,
    do_retract_intake_item,
    do_run_screening,
)
from ketaclinic.web.screening.actions.measurements import (
    PREGNANCY_CHOICES,
    do_record_blood_pressure,
    do_record_intake_weight,
    do_record_vitals,
)
from ketaclinic.web.screening.actions.review import do_cosign_override, do_review_finding, is_sentence

__all__ = [
    "CLINICAL_STATUSES",
    "CONDITION_SYSTEMS",
    "MEDICATION_STATUSES",
    "PREGNANCY_CHOICES",
    "VERIFICATION_STATUSES",
    "approvals",
    "build_bundle",
    "do_cosign_override",
    "do_import_bundle",
    "do_record_allergy",
    "do_record_blood_pressure",
    "do_record_condition",
    "do_record_consent",
    "do_record_intake_weight",
    "do_record_medication",
    "do_record_vitals",
    "do_retract_intake_item",
    "do_review_finding",
    "do_run_screening",
    "is_sentence",
    "off_label_notice",
    "validate_approvals",
]
