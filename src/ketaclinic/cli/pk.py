"""CLI for the pharmacokinetic engine: `ketaclinic pk simulate` and `ketaclinic pk models` (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ketaclinic.cli._common import emit_json, fail, read_json_file

pk_app = typer.Typer(
    help="Pharmacokinetic simulation (decision support, not a dosing instruction).", no_args_is_help=True
)


def _round(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]


@pk_app.command("simulate")
def simulate_cmd(
    regimen_file: Annotated[
        Path, typer.Argument(metavar="REGIMEN.json", help="patient, doses and times_min")
    ],
    model: Annotated[str, typer.Option("--model", help="model id (see `ketaclinic pk models`)")],
    population: Annotated[
        int, typer.Option("--population", help="number of virtual patients (0 = none)")
    ] = 0,
    seed: Annotated[int | None, typer.Option("--seed", help="random seed for the virtual patients")] = None,
    analyte: Annotated[
        str | None, typer.Option("--analyte", help="analyte to report (default: the parent drug)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate plasma concentrations (ng/mL) for a regimen with a published model.

    REGIMEN: {"patient": {"weight_kg", "age"?, "sex"?}, "doses": [{"drug", "route", "amount_mg", "start_min",
    "duration_min"?}], "times_min": [...]}.

    Example input: examples/pk-simulate-esketamine-84mg.json
    """
    from ketaclinic.core.pk import list_models, load_model, parse_regimen, simulate
    from ketaclinic.core.pk.regimen import RegimenError, limits

    data = read_json_file(regimen_file, what="REGIMEN")
    try:
        mdl = load_model(model)
    except KeyError as exc:
        fail(f"--model: {exc.args[0]}")
    lim = limits()
    if population < 0 or population > lim.max_population:
        fail(f"--population: must be between 0 and {lim.max_population}")
    if seed is not None and seed < 0:
        fail("--seed: must be >= 0")
    if population > 0 and not mdl.has_variability:
        # Virtual patients of such a model are all the typical patient: a "band" would be a flat line.
        with_variability = ", ".join(m.id for m in list_models() if m.has_variability and m.drug == mdl.drug)
        fail(
            f"--population: model {mdl.id} has no published between-subject variability, so every virtual "
            "patient would be the typical patient; leave out --population"
            + (f", or use a model with variability ({with_variability})" if with_variability else "")
        )
    if analyte is not None and analyte not in {a.id for a in mdl.analytes}:
        fail(
            f"--analyte: model {mdl.id} has no analyte {analyte!r} (has: {', '.join(a.id for a in mdl.analytes)})"
        )
    try:
        regimen, times = parse_regimen(data)
        sim = simulate(regimen, mdl, times, analyte=analyte, population=population, seed=seed)
    except RegimenError as exc:
        fail(f"{exc.field}: {exc.reason}")
    except ValueError as exc:
        fail(f"REGIMEN: {exc}")
    out: dict[str, Any] = {
        "model": sim.model_id,
        "analyte": sim.analyte,
        "unit": "ng/mL",
        "times_min": [float(t) for t in sim.times_min],
        "concentration": _round(sim.typical),
    }
    if population > 0 and sim.percentiles is not None:
        out["percentiles"] = {str(p): _round(v) for p, v in sim.percentiles.items()}
        out["population"] = population
        out["seed"] = seed
    out["citation"] = mdl.citation
    out["disclaimer"] = "Decision support, not a dosing instruction."
    if as_json:
        emit_json(out)
        return
    typer.echo(f"{mdl.name}: {sim.analyte} (ng/mL), typical patient")
    for k, t in enumerate(out["times_min"]):
        line = f"  t={t:g} min  {out['concentration'][k]:.2f}"
        if "percentiles" in out:
            pc = out["percentiles"]
            line += f"  [5%% {pc['5'][k]:.2f}, 50%% {pc['50'][k]:.2f}, 95%% {pc['95'][k]:.2f}]".replace(
                "%%", "%"
            )
        typer.echo(line)


@pk_app.command("models")
def models_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """List the packaged PK models with route, analytes and citation."""
    from ketaclinic.core.pk import list_models

    models = [m.summary() for m in list_models()]
    if as_json:
        emit_json({"models": models})
        return
    for m in models:
        typer.echo(f"{m['id']}: {m['drug']} [{', '.join(m['route'])}] analytes {', '.join(m['analytes'])}")
        typer.echo(f"    {m['citation']}")


def register(app: typer.Typer) -> None:
    """Add the `pk` command group to the `ketaclinic` app."""
    app.add_typer(pk_app, name="pk")
