"""Predicted concentration curve for a proposed order (and the course so far): request parsing and simulation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketaclinic.core.pk import RegimenError, load_model, parse_regimen, simulate
from ketaclinic.core.pk.chart import chart_settings, simulation_svg
from ketaclinic.web.lib.errors import ValidationFailed

POPULATION = 1000  # virtual patients for the band
SEED = 20210401  # fixed: the same order always shows the same band
DEFAULT_HORIZON_MIN = 240
MAX_HORIZON_MIN = 1440
STEP_MIN = 2


@dataclass(frozen=True)
class PkCurve:
    """What the fragment shows."""

    svg: str
    model_id: str
    model_name: str
    citation: str
    model_reason: str
    has_band: bool
    weight_kg: float
    peak_ng_ml: float
    caveats: tuple[str, ...]
    disclaimer: str


CAVEATS = (
    "Arterial and venous concentrations differ; the dissociative range comes from venous racemic ketamine data.",
    "Racemic models treat S- and R-ketamine together; esketamine is about twice as potent as the racemate.",
    "Intranasal absorption depends on the device sequence: doses are not proportional.",
    "No model includes CYP3A4/CYP2B6 drug interactions.",
)


def _float(
    params: Mapping[str, Any], name: str, errors: dict[str, list[str]], *, required: bool
) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            errors.setdefault(name, []).append("required")
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        errors.setdefault(name, []).append("must be a number")
        return None


def _prior(items: Sequence[str], drug: str, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Earlier doses of the course as ``route:amount_mg:minutes_before[:duration_min]``."""
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        parts = item.split(":")
        try:
            if len(parts) not in (3, 4):
                raise ValueError
            before = float(parts[2])
            if before <= 0:
                raise ValueError
            dose: dict[str, Any] = {
                "drug": drug,
                "route": parts[0],
                "amount_mg": float(parts[1]),
                "before": before,
            }
            if len(parts) == 4:
                dose["duration_min"] = float(parts[3])
            out.append(dose)
        except ValueError:
            errors.setdefault(f"prior[{i}]", []).append(
                "must be route:amount_mg:minutes_before[:duration_min] with minutes_before > 0"
            )
    return out


def build_pk_curve(
    params: Mapping[str, Any], prior_items: Sequence[str], *, weight_kg: float | None, age: float | None
) -> PkCurve:
    """Simulate the proposed dose (plus earlier doses of the course) for this patient; ValidationFailed on bad input.

    ``params``: drug, route, amount_mg, duration_min (IV infusion), model (default per drug, data/display.yaml),
    horizon_min (default 240, at most 1440, after the proposed dose).
    """
    errors: dict[str, list[str]] = {}
    if weight_kg is None:
        raise ValidationFailed({"weight_kg": ["no body weight recorded for this patient"]})
    drug = str(params.get("drug") or "")
    if drug not in ("ketamine", "esketamine"):
        errors.setdefault("drug", []).append("must be ketamine or esketamine")
    route = str(params.get("route") or "")
    amount = _float(params, "amount_mg", errors, required=True)
    duration = _float(params, "duration_min", errors, required=False)
    horizon = _float(params, "horizon_min", errors, required=False) or DEFAULT_HORIZON_MIN
    if not 10 <= horizon <= MAX_HORIZON_MIN:
        errors.setdefault("horizon_min", []).append(f"must be between 10 and {MAX_HORIZON_MIN} minutes")
    prior = _prior(prior_items, drug, errors)
    settings = chart_settings()
    model_id = str(params.get("model") or "")
    reason = "chosen by the prescriber"
    if not model_id and drug in ("ketamine", "esketamine"):
        model_id, reason = settings.default_model(drug)
    model = None
    if model_id:
        try:
            model = load_model(model_id)
        except KeyError:
            errors.setdefault("model", []).append(f"unknown model {model_id!r}")
    if errors:
        raise ValidationFailed(errors)
    assert model is not None and amount is not None
    offset = max((p["before"] for p in prior), default=0.0)
    doses = [
        {
            "drug": p["drug"],
            "route": p["route"],
            "amount_mg": p["amount_mg"],
            "start_min": offset - p["before"],
            **({"duration_min": p["duration_min"]} if "duration_min" in p else {}),
        }
        for p in prior
    ]
    proposed: dict[str, Any] = {"drug": drug, "route": route, "amount_mg": amount, "start_min": offset}
    if duration is not None:
        proposed["duration_min"] = duration
    doses.append(proposed)
    end = offset + horizon
    start = max(0.0, offset - 60.0) if prior else 0.0
    n = int((end - start) // STEP_MIN) + 1
    times = [start + k * STEP_MIN for k in range(n)]
    regimen_data = {"patient": {"weight_kg": weight_kg, "age": age}, "doses": doses, "times_min": times}
    try:
        regimen, t = parse_regimen(regimen_data)
        sim = simulate(regimen, model, t, population=POPULATION, seed=SEED)
    except RegimenError as exc:
        field = exc.field
        if field.startswith("doses["):
            index = int(field[6 : field.index("]")])
            name = field.split(".", 1)[1] if "." in field else "dose"
            field = name if index == len(doses) - 1 else f"prior[{index}]"
        elif field.startswith("patient."):
            field = field.split(".", 1)[1]
        raise ValidationFailed({field: [exc.reason]}) from exc
    # show time relative to the proposed dose
    from dataclasses import replace

    import numpy as np

    shifted = replace(
        sim,
        times_min=np.asarray(sim.times_min) - offset,
        percentiles=sim.percentiles if model.has_variability else None,
    )
    dose_marks = [d["start_min"] - offset for d in doses]
    title = f"Predicted {sim.analyte}: {amount:g} mg {route} ({model.name})"
    svg = simulation_svg(shifted, title=title, model_name=model.name, dose_times_min=dose_marks)
    return PkCurve(
        svg=svg,
        model_id=model.id,
        model_name=model.name,
        citation=model.citation,
        model_reason=reason,
        has_band=model.has_variability,
        weight_kg=weight_kg,
        peak_ng_ml=float(sim.typical.max()),
        caveats=CAVEATS,
        disclaimer=settings.disclaimer,
    )
