"""Protocol library (data/) and the dose guard `check_dose(request, protocol)`; monitoring and discharge rules."""

from ketaclinic.core.protocols.guard import (
    FINDING_CODES,
    Dose,
    DoseCheckResult,
    DoseRequest,
    DoseRequestError,
    Finding,
    PatientFacts,
    check_dose,
    parse_dose,
    parse_dose_request,
)
from ketaclinic.core.protocols.model import (
    INFUSION_GUARD_RAILS,
    Protocol,
    ProtocolError,
    get_protocol,
    load_protocols,
    missing_guard_rails,
    parse_protocol,
    protocol_ids,
)
from ketaclinic.core.protocols.settings import guard_settings

__all__ = [
    "FINDING_CODES",
    "INFUSION_GUARD_RAILS",
    "Dose",
    "DoseCheckResult",
    "DoseRequest",
    "DoseRequestError",
    "Finding",
    "PatientFacts",
    "Protocol",
    "ProtocolError",
    "check_dose",
    "get_protocol",
    "guard_settings",
    "load_protocols",
    "missing_guard_rails",
    "parse_dose",
    "parse_dose_request",
    "parse_protocol",
    "protocol_ids",
]
