"""Hypothesis properties of the engine: linearity in dose, superposition, non-negativity, reproducible populations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.core.pk import Dose, Patient, Regimen, load_model, simulate

LINEAR_MODELS = ["domino", "clements", "hijazi", "herd-2007", "kamp-2020"]
ORAL_ROUTES = ["iv", "im", "oral", "sublingual"]
TIMES = np.array([0.0, 1, 3, 7, 15, 30, 45, 60, 90, 120, 240, 480, 1440])

doses = st.builds(
    lambda route, amount, start, dur: Dose("ketamine", route, amount, start, dur if route == "iv" else None),
    st.sampled_from(ORAL_ROUTES),
    st.floats(0.5, 400),
    st.floats(0, 600),
    st.one_of(st.none(), st.floats(0.5, 120)),
)


def _supported(model_id: str, d: Dose) -> Dose:
    return (
        d
        if d.route in load_model(model_id).routes
        else Dose(d.drug, "iv", d.amount_mg, d.start_min, d.duration_min)
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LINEAR_MODELS), doses, st.floats(3, 200), st.floats(20, 150))
def test_linear_in_dose(model_id: str, dose: Dose, factor: float, weight: float) -> None:
    m = load_model(model_id)
    d = _supported(model_id, dose)
    base = simulate(Regimen(Patient(weight), (d,)), m, TIMES).typical
    scaled = Dose(d.drug, d.route, d.amount_mg * factor, d.start_min, d.duration_min)
    big = simulate(Regimen(Patient(weight), (scaled,)), m, TIMES).typical
    np.testing.assert_allclose(big, base * factor, rtol=1e-9, atol=1e-9 * float(big.max(initial=0.0)))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LINEAR_MODELS), doses, doses, st.floats(20, 150))
def test_superposition(model_id: str, d1: Dose, d2: Dose, weight: float) -> None:
    m = load_model(model_id)
    d1, d2 = _supported(model_id, d1), _supported(model_id, d2)
    both = simulate(Regimen(Patient(weight), (d1, d2)), m, TIMES).typical
    one = simulate(Regimen(Patient(weight), (d1,)), m, TIMES).typical
    two = simulate(Regimen(Patient(weight), (d2,)), m, TIMES).typical
    np.testing.assert_allclose(both, one + two, rtol=1e-9, atol=1e-9 * float(both.max(initial=0.0)))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["intranasal", "iv", "oral"]), st.integers(1, 4), st.floats(0, 2000)),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["esketamine", "noresketamine"]),
)
def test_non_negative_and_finite_for_virtual_patients(
    plan: list[tuple[str, int, float]], seed: int, analyte: str
) -> None:
    m = load_model("perez-ruixo-2021")
    ds = tuple(
        Dose("esketamine", route, 28.0 * n, start, 40.0 if route == "iv" else None)
        for route, n, start in plan
    )
    sim = simulate(Regimen(Patient(70.0), ds), m, TIMES * 2, analyte=analyte, population=50, seed=seed)
    assert sim.population is not None and sim.percentiles is not None
    assert np.all(np.isfinite(sim.population)) and np.all(sim.population >= 0)
    assert np.all(sim.percentiles[5] <= sim.percentiles[50]) and np.all(
        sim.percentiles[50] <= sim.percentiles[95]
    )
    first = min(d.start_min for d in ds)
    assert np.all(sim.population[:, first > TIMES * 2] == 0)


def test_population_is_reproducible_with_a_seed() -> None:
    m = load_model("perez-ruixo-2021")
    reg = Regimen(Patient(70.0), (Dose("esketamine", "intranasal", 56.0, 0.0),))
    a = simulate(reg, m, TIMES, population=200, seed=11)
    b = simulate(reg, m, TIMES, population=200, seed=11)
    c = simulate(reg, m, TIMES, population=200, seed=12)
    assert a.population is not None and b.population is not None and c.population is not None
    assert np.array_equal(a.population, b.population)
    assert not np.array_equal(a.population, c.population)
    np.testing.assert_array_equal(a.typical, c.typical)


def test_model_without_variability_gives_a_degenerate_band() -> None:
    sim = simulate(
        Regimen(Patient(70.0), (Dose("ketamine", "iv", 35.0, 0.0, 40.0),)),
        load_model("domino"),
        TIMES,
        population=20,
        seed=1,
    )
    assert sim.percentiles is not None
    np.testing.assert_allclose(sim.percentiles[5], sim.typical, rtol=1e-12)
    np.testing.assert_allclose(sim.percentiles[95], sim.typical, rtol=1e-12)
