"""The one error type of core validation: which input is wrong (its path) and why, in words.

Every engine that checks its input raises a subclass of `CoreValidationError` named for its domain
(`ProtocolError`, `DoseRequestError`, `CohortError` ...), so a caller can catch one domain or all of them, and the
web layer turns any of them into a field error the same way (`ketaclinic.web.lib.errors.failed_from_core`).
Malformed packaged data files raise their own load-time errors, which carry a message only.
"""

from __future__ import annotations


class CoreValidationError(ValueError):
    """Bad input: `field` is the path of the offending item (`doses[1].amount_mg`, `dose.default.value`,
    `item 9`) and `reason` says what is wrong with it. `path` is another name for `field`."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    @property
    def path(self) -> str:
        return self.field
