"""Jurisdictions a site can be in: a US state, the United Kingdom, or an Australian state or territory."""

from __future__ import annotations

US_STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "PR",
]
AU_STATES = ["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"]

JURISDICTION_CHOICES: list[tuple[str, str]] = (
    [(f"US-{s}", f"United States — {s}") for s in US_STATES]
    + [("UK", "United Kingdom")]
    + [(f"AU-{s}", f"Australia — {s}") for s in AU_STATES]
)
JURISDICTIONS = {code for code, _ in JURISDICTION_CHOICES}


def country_of(jurisdiction: str) -> str:
    """ "US", "UK" or "AU"."""
    return jurisdiction.split("-", 1)[0]
