"""Shared helpers for the PK tests: regimens and small hand-built models."""

from __future__ import annotations

from typing import Any

from ketaclinic.core.pk import Dose, Patient, Regimen


def iv_infusion(weight: float = 70.0, mg_per_kg: float = 0.5, minutes: float = 40.0) -> Regimen:
    return Regimen(Patient(weight), (Dose("ketamine", "iv", mg_per_kg * weight, 0.0, minutes),))


def intranasal(mg: float, start: float = 0.0, weight: float = 70.0) -> Regimen:
    return Regimen(Patient(weight), (Dose("esketamine", "intranasal", mg, start),))


def one_compartment_oral(ka: float, k: float, v: float = 50.0, f: float = 0.8) -> dict[str, Any]:
    """A 1-compartment model with first-order absorption (rates in 1/min), as a model mapping."""
    return {
        "version": 1,
        "id": "test-1cmt-oral",
        "name": "test one-compartment oral",
        "drug": "ketamine",
        "citation": "test",
        "source_status": "test",
        "population": "test",
        "parameters": {
            "V": {"value": v, "unit": "L", "status": "R", "source": "test"},
            "k": {"value": k, "unit": "1/min", "status": "R", "source": "test"},
            "ka": {"value": ka, "unit": "1/min", "status": "R", "source": "test"},
            "F": {"value": f, "unit": "fraction", "status": "R", "source": "test"},
        },
        "compartments": [{"id": "gut"}, {"id": "central", "volume": "V"}],
        "flows": [
            {"from": "gut", "to": "central", "rate": "ka"},
            {"from": "central", "to": "out", "rate": "k"},
        ],
        "analytes": [{"id": "ketamine", "compartment": "central"}],
        "routes": {
            "oral": {"inputs": [{"to": "gut", "fraction": ["F"]}]},
            "iv": {"inputs": [{"to": "central"}]},
        },
    }
