"""Value sets (ICD-10-CM subtrees, SNOMED CT concepts, RxNorm ingredients, LOINC codes) as reviewed data files."""

from ketaclinic.core.terminology.valuesets import (
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    UCUM,
    CodeMatch,
    IngredientSet,
    Terminology,
    TerminologyError,
    icd10cm_normalize,
    load_terminology,
)

__all__ = [
    "ICD10CM",
    "LOINC",
    "RXNORM",
    "SNOMED",
    "UCUM",
    "CodeMatch",
    "IngredientSet",
    "Terminology",
    "TerminologyError",
    "icd10cm_normalize",
    "load_terminology",
]
