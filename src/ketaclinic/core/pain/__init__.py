"""Pain programme logic: opioid load in MME/day (CDC 2022 factors) and pain-score response."""

from ketaclinic.core.pain.mme import (
    MedicationDose,
    MmeFinding,
    MmeInputError,
    MmeItem,
    MmeRequest,
    MmeResult,
    MmeTable,
    Opioid,
    calculate_mme,
    load_mme_table,
    mme_for,
    parse_mme_request,
)

__all__ = [
    "MedicationDose",
    "MmeFinding",
    "MmeInputError",
    "MmeItem",
    "MmeRequest",
    "MmeResult",
    "MmeTable",
    "Opioid",
    "calculate_mme",
    "load_mme_table",
    "mme_for",
    "parse_mme_request",
]
