"""ketaclinic.core.pk: pharmacokinetic models as data and an exact, vectorised simulation engine."""

from ketaclinic.core.pk.engine import (
    Simulation,
    concentrations,
    individual_parameters,
    simulate,
    system_matrix,
)
from ketaclinic.core.pk.model import Model, ModelError, list_models, load_model, parse_model
from ketaclinic.core.pk.regimen import Dose, Patient, Regimen, RegimenError, parse_regimen, validate_regimen

__all__ = [
    "Dose",
    "Model",
    "ModelError",
    "Patient",
    "Regimen",
    "RegimenError",
    "Simulation",
    "concentrations",
    "individual_parameters",
    "list_models",
    "load_model",
    "parse_model",
    "parse_regimen",
    "simulate",
    "system_matrix",
    "validate_regimen",
]
