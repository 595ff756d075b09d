"""Validate FHIR R4 resources at the boundary with fhir.resources' R4B models, returning every issue with its path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class FhirIssue:
    """One validation problem: a FHIRPath-like location and a message."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class FhirValidationError(ValueError):
    """Raised by `require_valid` with every issue found."""

    def __init__(self, issues: list[FhirIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def _path(resource_type: str, loc: tuple[int | str, ...]) -> str:
    out = resource_type
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_resource(resource: object) -> list[FhirIssue]:
    """Return all structural issues of `resource` (empty list when valid).

    Checks with the R4B model of its `resourceType`; R4B differs from R4 only outside the clinical
    resources we emit (see docs/decisions/0002-fhir-r4b-models.md).
    """
    if not isinstance(resource, dict):
        return [FhirIssue("$", "a FHIR resource must be a JSON object")]
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return [FhirIssue("$.resourceType", "missing resourceType")]
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError, AttributeError, ImportError):
        return [FhirIssue(f"{rtype}.resourceType", f"unknown resource type {rtype!r}")]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [FhirIssue(_path(rtype, tuple(e["loc"])), str(e["msg"])) for e in exc.errors()]
    return []


def require_valid(resource: dict[str, Any]) -> dict[str, Any]:
    """Return `resource` unchanged if valid, else raise FhirValidationError listing every issue."""
    issues = validate_resource(resource)
    if issues:
        raise FhirValidationError(issues)
    return resource
