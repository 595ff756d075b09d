"""Exact simulation of linear compartment models for typical and virtual patients (NumPy, vectorised over patients).

Every model is the linear system ``dx/dt = A x + u(t)`` where ``x`` holds amounts (mg) in each compartment and,
for an effect site, a concentration (mg/L), and ``u`` is piecewise constant between event times (infusions and
zero-order absorption), with boluses as jumps in ``x``. Between two consecutive event or observation times
``t_k`` and ``t_k + h`` the solution is exact:

    x(t_k + h) = Phi(h) x(t_k) + Gamma(h) u_k,   Phi(h) = exp(A h),   Gamma(h) = integral_0^h exp(A s) ds,

Two equivalent ways to evaluate it are implemented:

* ``modal`` (fast path, closed-form sums of exponentials): ``A = V diag(lambda) V^-1``; in modal coordinates
  ``z = V^-1 x`` each mode evolves independently, ``z_i <- exp(lambda_i h) z_i + expm1(lambda_i h)/lambda_i
  (V^-1 u)_i``, and a concentration is ``C(t) = sum_i c_i z_i(t)``: the classical sum of exponentials, superposed
  over doses. Used for every virtual patient whose eigenvalues are well separated.
* ``expm`` (general path): ``[[Phi, Gamma], [0, I]] = exp([[A, I], [0, 0]] h)``, the augmented matrix
  exponential (zero-order hold), computed by :func:`ketaclinic.core.pk.linalg.expm_batched`. Exact also for
  defective systems, so the singular cases (e.g. an absorption rate equal to an elimination rate, ka == k, where
  the solution contains ``t exp(-k t)`` terms and the eigenvectors coincide) are routed here automatically: a
  patient whose eigenvalues are closer than 1e-6 relative (or whose eigenvector matrix is ill-conditioned) is
  simulated with ``expm``.

Concentrations are returned in ng/mL (mg/L x 1000). Observations at a dose time see the dose (right-continuous).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ketaclinic.core.pk.linalg import expm_batched
from ketaclinic.core.pk.model import Model, Parameter
from ketaclinic.core.pk.regimen import Patient, Regimen, limits, validate_regimen

__all__ = [
    "Simulation",
    "concentrations",
    "individual_parameters",
    "simulate",
    "system_matrix",
]

Method = Literal["auto", "modal", "expm"]
Array = NDArray[np.float64]
ModalArray = NDArray[Any]  # float64, or complex128 when a system has complex eigenvalues
PERCENTILES: tuple[int, ...] = (5, 50, 95)
_GAP_TOL = 1e-6
_COND_TOL = 1e8


@dataclass(frozen=True, slots=True)
class Simulation:
    """Result of :func:`simulate`.

    Attributes
    ----------
    model_id, analyte : str
        What was simulated.
    times_min : ndarray, shape (T,)
        Observation times (minutes after time 0).
    typical : ndarray, shape (T,)
        Concentration (ng/mL) for the typical patient (all random effects zero) with this patient's covariates.
    population : ndarray, shape (N, T) or None
        Concentrations of the N virtual patients, when ``population > 0``.
    percentiles : mapping int -> ndarray (T,), or None
        The 5th, 50th and 95th percentiles over the virtual patients at each time.
    """

    model_id: str
    analyte: str
    times_min: Array
    typical: Array
    population: Array | None
    percentiles: Mapping[int, Array] | None


# --------------------------------------------------------------------------- parameters


def _logit(p: Array) -> Array:
    out: Array = np.log(p) - np.log1p(-p)
    return out


def _typical_value(p: Parameter, patient: Patient) -> float:
    value = p.value
    if p.per_kg:
        value *= patient.weight_kg
    if p.allometric_reference_kg is not None and p.allometric_exponent is not None:
        value *= (patient.weight_kg / p.allometric_reference_kg) ** p.allometric_exponent
    if p.age_above_years is not None and patient.age is not None:
        value += p.age_per_year * max(0.0, patient.age - p.age_above_years)
    return value


def individual_parameters(
    model: Model, patient: Patient, n: int = 1, rng: np.random.Generator | None = None
) -> dict[str, Array]:
    """Parameter values (engine units) for ``n`` patients.

    ``rng is None`` gives ``n`` copies of the typical patient. Otherwise each parameter with IIV gets an
    independent ``eta ~ N(0, omega^2)``: ``P = P_typ exp(eta)`` (log-normal) or ``logit P = logit P_typ + eta``
    (fractions). Covariates (weight, age) act on the typical value; flag factors (e.g. Asian race) multiply the
    individual value. Draws are made in the file's parameter order, so a seed reproduces a population exactly.
    """
    out: dict[str, Array] = {}
    for name, p in model.parameters.items():
        typ = _typical_value(p, patient)
        if typ <= 0:
            raise ValueError(f"parameter {name} is not positive for this patient ({typ:g})")
        arr = np.full(n, typ, dtype=np.float64)
        if rng is not None and p.iiv is not None:
            eta = rng.normal(0.0, p.iiv.omega, n)
            if p.iiv.kind == "lognormal":
                arr = arr * np.exp(eta)
            else:
                arr = 1.0 / (1.0 + np.exp(-(_logit(arr) + eta)))
        for flag, factor in p.factors:
            if flag in patient.flags:
                arr = arr * factor
        out[name] = arr
    return out


# --------------------------------------------------------------------------- system


def _kept_states(model: Model, analyte_compartment: str) -> list[int]:
    """States from which the analyte's compartment can be reached (others cannot change the output)."""
    index = model.state_index
    parents: dict[str, set[str]] = {c.id: set() for c in model.compartments}
    for f in model.flows:
        if f.target != "out":
            parents[f.target].add(f.source)
    for c in model.compartments:
        if c.effect_of is not None:
            parents[c.id].add(c.effect_of)
    seen = {analyte_compartment}
    stack = [analyte_compartment]
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(index[c] for c in seen)


def system_matrix(model: Model, params: Mapping[str, Array], states: Sequence[int] | None = None) -> Array:
    """The matrix ``A`` (shape (N, n, n)) of ``dx/dt = A x`` for each patient, restricted to ``states``.

    A flow from i to j with rate constant k (or clearance CL: k = CL / V_i) adds ``-k`` at (i, i) and ``+k`` at
    (j, i) (nothing when j is ``out``). An effect site e of compartment c: ``dCe/dt = ke0 (x_c / V_c - Ce)``.
    """
    index = model.state_index
    keep = list(range(len(model.compartments))) if states is None else list(states)
    pos = {s: k for k, s in enumerate(keep)}
    n_pat = len(next(iter(params.values())))
    a = np.zeros((n_pat, len(keep), len(keep)))
    comps = {c.id: c for c in model.compartments}
    for f in model.flows:
        i = index[f.source]
        if i not in pos:
            continue
        if f.rate is not None:
            k = params[f.rate]
        else:
            vol = comps[f.source].volume
            assert f.clearance is not None and vol is not None
            k = params[f.clearance] / params[vol]
        a[:, pos[i], pos[i]] -= k
        if f.target != "out":
            j = index[f.target]
            if j in pos:
                a[:, pos[j], pos[i]] += k
    for c in model.compartments:
        if c.effect_of is not None and index[c.id] in pos:
            assert c.ke0 is not None
            parent = comps[c.effect_of]
            assert parent.volume is not None
            e, p = pos[index[c.id]], pos[index[c.effect_of]]
            ke0 = params[c.ke0]
            a[:, e, p] += ke0 / params[parent.volume]
            a[:, e, e] -= ke0
    return a


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class _Bolus:
    time: float
    state: int
    amount: Array  # (N,)


@dataclass(frozen=True, slots=True)
class _Infusion:
    start: float
    end: float
    state: int
    rate: Array  # (N,), mg/min


def _fraction(terms: Sequence[str], params: Mapping[str, Array], n: int) -> Array:
    out = np.ones(n)
    for term in terms:
        if term.startswith("1-"):
            out = out * (1.0 - params[term[2:].strip()])
        elif term in params:
            out = out * params[term]
        else:
            out = out * float(term)
    return out


def _inputs(
    model: Model, regimen: Regimen, params: Mapping[str, Array], pos: Mapping[int, int], n: int
) -> tuple[list[_Bolus], list[_Infusion]]:
    """Expand doses into boluses and constant-rate inputs (devices, bioavailability, zero-order absorption)."""
    index = model.state_index
    boluses: list[_Bolus] = []
    infusions: list[_Infusion] = []
    for dose in regimen.doses:
        route = model.routes[dose.route]
        if route.device is not None:
            n_dev = round(dose.amount_mg / route.device.amount_mg)
            parts = [
                (dose.start_min + k * route.device.interval_min, route.device.amount_mg, k)
                for k in range(n_dev)
            ]
        else:
            parts = [(dose.start_min, dose.amount_mg, 0)]
        for t0, amount, k in parts:
            p = params
            dev = route.device
            if k > 0 and dev is not None and dev.later_parameter is not None and dev.later_factor is not None:
                p = dict(params)
                p[dev.later_parameter] = params[dev.later_parameter] * params[dev.later_factor]
            for inp in route.inputs:
                state = index[inp.to]
                if state not in pos:
                    continue
                amt = amount * _fraction(inp.fraction, p, n)
                duration: float | None = dose.duration_min
                if inp.duration is not None:
                    d = p[inp.duration]
                    duration = float(d[0])
                if duration is None:
                    boluses.append(_Bolus(t0, pos[state], amt))
                else:
                    infusions.append(_Infusion(t0, t0 + duration, pos[state], amt / duration))
    return boluses, infusions


# --------------------------------------------------------------------------- propagation


def _schedule(
    times: Array, boluses: Sequence[_Bolus], infusions: Sequence[_Infusion]
) -> tuple[Array, NDArray[np.int64], list[list[int]], list[tuple[int, ...]]]:
    """Event grid, the grid index of each observation, boluses per grid point, active infusions per interval."""
    pts = np.concatenate(
        [
            np.array([0.0]),
            times,
            np.array([b.time for b in boluses]),
            np.array([i.start for i in infusions]),
            np.array([i.end for i in infusions]),
        ]
    )
    grid = np.unique(pts)
    obs_idx = np.searchsorted(grid, times).astype(np.int64)
    bolus_at: list[list[int]] = [[] for _ in grid]
    for j, b in enumerate(boluses):
        bolus_at[int(np.searchsorted(grid, b.time))].append(j)
    active: list[list[int]] = [[] for _ in range(len(grid) - 1)]
    for j, inf in enumerate(infusions):
        k0 = int(np.searchsorted(grid, inf.start))
        k1 = int(np.searchsorted(grid, inf.end))
        for k in range(k0, k1):
            active[k].append(j)
    return grid, obs_idx, bolus_at, [tuple(a) for a in active]


def _propagate_modal(
    out_state: int,
    out_scale: Array,
    grid: Array,
    obs_mask: NDArray[np.bool_],
    bolus_at: Sequence[Sequence[int]],
    active: Sequence[tuple[int, ...]],
    boluses: Sequence[_Bolus],
    infusions: Sequence[_Infusion],
    lam: ModalArray,
    vec: ModalArray,
    winv: ModalArray,
) -> Array:
    """Diagonalised exact solution (sum of exponentials); returns concentrations, shape (observed grid points, N)."""
    # Patient-last layout (mode, patient): every per-step operation is a contiguous vector operation.
    winv = winv.transpose(2, 1, 0).copy()  # (input state, mode, patient)
    coef = np.ascontiguousarray((vec[:, out_state, :] * out_scale[:, None]).T)  # (mode, patient)
    lam = np.ascontiguousarray(lam.T)
    n, n_pat = lam.shape
    dtype = lam.dtype
    is_complex = np.iscomplexobj(lam)
    z = np.zeros((n, n_pat), dtype=dtype)
    out = np.empty((int(obs_mask.sum()), n_pat))
    row = 0
    step_cache: dict[float, ModalArray] = {}
    gwu_cache: dict[tuple[float, tuple[int, ...]], ModalArray] = {}
    for k in range(len(grid)):
        for j in bolus_at[k]:
            b = boluses[j]
            z += winv[b.state] * b.amount
        if obs_mask[k]:
            if is_complex:
                out[row] = np.einsum("ij,ij->j", coef, z).real
            else:
                np.einsum("ij,ij->j", coef, z, out=out[row])
            row += 1
        if k == len(grid) - 1:
            break
        h = float(grid[k + 1] - grid[k])
        d = step_cache.get(h)
        if d is None:
            d = step_cache[h] = np.exp(lam * h)
        z *= d
        cfg = active[k]
        if cfg:
            key = (h, cfg)
            gwu = gwu_cache.get(key)
            if gwu is None:
                lh = lam * h
                small = np.abs(lh) < 1e-12
                g = np.where(small, h, np.expm1(lh) / np.where(small, 1.0, lam))
                wu = np.zeros((n, n_pat), dtype=dtype)
                for j in cfg:
                    inf = infusions[j]
                    wu = wu + winv[inf.state] * inf.rate
                gwu = gwu_cache[key] = g * wu
            z += gwu
    return out


def _propagate_expm(
    a: Array,
    out_state: int,
    out_scale: Array,
    grid: Array,
    obs_mask: NDArray[np.bool_],
    bolus_at: Sequence[Sequence[int]],
    active: Sequence[tuple[int, ...]],
    boluses: Sequence[_Bolus],
    infusions: Sequence[_Infusion],
) -> Array:
    """Zero-order-hold exact solution with the augmented matrix exponential; returns (grid points with obs, N)."""
    n_pat, n, _ = a.shape
    x = np.zeros((n_pat, n))
    out = np.empty((int(obs_mask.sum()), n_pat))
    row = 0
    step_cache: dict[float, tuple[Array, Array]] = {}
    u_cache: dict[tuple[int, ...], Array] = {}
    for k in range(len(grid)):
        for j in bolus_at[k]:
            b = boluses[j]
            x[:, b.state] += b.amount
        if obs_mask[k]:
            out[row] = x[:, out_state] * out_scale
            row += 1
        if k == len(grid) - 1:
            break
        h = float(grid[k + 1] - grid[k])
        if h not in step_cache:
            aug = np.zeros((n_pat, 2 * n, 2 * n))
            aug[:, :n, :n] = a * h
            aug[:, :n, n:] = np.eye(n) * h
            m = expm_batched(aug)
            step_cache[h] = (m[:, :n, :n], m[:, :n, n:])
        phi, gam = step_cache[h]
        x = np.einsum("nij,nj->ni", phi, x)
        cfg = active[k]
        if cfg:
            if cfg not in u_cache:
                u = np.zeros((n_pat, n))
                for j in cfg:
                    inf = infusions[j]
                    u[:, inf.state] += inf.rate
                u_cache[cfg] = u
            x = x + np.einsum("nij,nj->ni", gam, u_cache[cfg])
    return out


def _eigen(
    a: Array,
) -> tuple[ModalArray, ModalArray, ModalArray, NDArray[np.bool_]]:
    """Eigen-decomposition per patient and a mask of patients for whom it is unsafe (near-repeated eigenvalues)."""
    lam, vec = np.linalg.eig(a)
    if np.iscomplexobj(lam) and np.all(np.abs(lam.imag) <= 1e-12 * np.maximum(np.abs(lam.real), 1e-300)):
        lam, vec = lam.real, vec.real
    n = lam.shape[1]
    bad = np.zeros(lam.shape[0], dtype=bool)
    scale = np.maximum(np.abs(lam).max(axis=1), 1e-300)
    for i in range(n):
        for j in range(i + 1, n):
            bad |= np.abs(lam[:, i] - lam[:, j]) <= _GAP_TOL * scale
    with np.errstate(all="ignore"):
        winv = np.linalg.inv(vec)
        # 1-norm condition number of the eigenvector matrix (cheap, exact for the 1-norm)
        cond = np.abs(vec).sum(axis=1).max(axis=1) * np.abs(winv).sum(axis=1).max(axis=1)
    bad |= ~np.isfinite(cond) | (cond > _COND_TOL)
    return lam, vec, winv, bad


def concentrations(
    model: Model,
    regimen: Regimen,
    times: Array,
    params: Mapping[str, Array],
    *,
    analyte: str | None = None,
    method: Method = "auto",
) -> Array:
    """Concentrations (ng/mL), shape (N, T), for N patients given their parameter arrays (engine units).

    The low-level entry point behind :func:`simulate` (no validation of the regimen against the model); use it
    when the parameters come from elsewhere (e.g. a benchmark's shared virtual population).
    """
    analyte_compartment = (model.default_analyte if analyte is None else model.analyte(analyte)).compartment
    n_pat = len(next(iter(params.values())))
    keep = _kept_states(model, analyte_compartment)
    pos = {s: k for k, s in enumerate(keep)}
    a = system_matrix(model, params, keep)
    comp = next(c for c in model.compartments if c.id == analyte_compartment)
    out_state = pos[model.state_index[analyte_compartment]]
    out_scale = (1000.0 / params[comp.volume]) if comp.volume is not None else np.full(n_pat, 1000.0)
    boluses, infusions = _inputs(model, regimen, params, pos, n_pat)
    grid, obs_idx, bolus_at, active = _schedule(times, boluses, infusions)
    obs_mask = np.zeros(len(grid), dtype=bool)
    obs_mask[obs_idx] = True
    row_of_grid = np.cumsum(obs_mask) - 1
    n_rows = int(obs_mask.sum())

    def sub_inputs(mask: NDArray[np.bool_]) -> tuple[list[_Bolus], list[_Infusion]]:
        return (
            [_Bolus(b.time, b.state, b.amount[mask]) for b in boluses],
            [_Infusion(i.start, i.end, i.state, i.rate[mask]) for i in infusions],
        )

    if method == "expm":
        rows = _propagate_expm(a, out_state, out_scale, grid, obs_mask, bolus_at, active, boluses, infusions)
    else:
        lam, vec, winv, bad = _eigen(a)
        if method == "modal" and bad.any():
            raise ValueError(
                "modal method: repeated eigenvalues for some patients; use method='auto' or 'expm'"
            )
        if not bad.any():
            rows = _propagate_modal(
                out_state, out_scale, grid, obs_mask, bolus_at, active, boluses, infusions, lam, vec, winv
            )
        else:
            rows = np.empty((n_rows, n_pat))
            good = ~bad
            if good.any():
                gb, gi = sub_inputs(good)
                rows[:, good] = _propagate_modal(
                    out_state,
                    out_scale[good],
                    grid,
                    obs_mask,
                    bolus_at,
                    active,
                    gb,
                    gi,
                    lam[good],
                    vec[good],
                    winv[good],
                )
            bb, bi = sub_inputs(bad)
            rows[:, bad] = _propagate_expm(
                a[bad], out_state, out_scale[bad], grid, obs_mask, bolus_at, active, bb, bi
            )
    wanted = row_of_grid[obs_idx]
    conc: Array = rows.T if np.array_equal(wanted, np.arange(n_rows)) else rows.T[:, wanted]
    # Exact arithmetic gives C >= 0; clip rounding noise (of order 1e-13 of the peak) at zero.
    np.maximum(conc, 0.0, out=conc)
    return conc


def simulate(
    regimen: Regimen,
    model: Model,
    times: Sequence[float] | Array,
    *,
    analyte: str | None = None,
    population: int = 0,
    seed: int | None = None,
    method: Method = "auto",
) -> Simulation:
    """Simulate a regimen with a model: the typical patient and, optionally, ``population`` virtual patients.

    Parameters
    ----------
    regimen : Regimen
        Patient covariates and doses. Validated against the model (drug, route, device multiples).
    model : Model
        A model from :func:`ketaclinic.core.pk.model.load_model`.
    times : sequence of float
        Observation times in minutes (sorted, >= 0).
    analyte : str, optional
        Which concentration to return (default: the model's parent drug).
    population : int
        Number of virtual patients drawn with the model's log-normal (or logit-normal) IIV; 0 for none.
        Models without published IIV return copies of the typical curve (and say so in ``ketaclinic pk models``).
    seed : int, optional
        Seed for the NumPy generator (same seed, same population).
    method : {"auto", "modal", "expm"}
        ``auto``: sums of exponentials (modal) per patient, augmented matrix exponential where the
        eigen-decomposition is unsafe (ka == k and other repeated eigenvalues). ``expm`` forces the general path.

    Returns
    -------
    Simulation
        Concentrations in ng/mL.

    Notes
    -----
    Example: a 1-compartment model with first-order absorption gives
    ``C(t) = F D ka / (V (ka - k)) (exp(-k t) - exp(-ka t))`` and, in the singular case ``ka == k``,
    ``C(t) = F D k t exp(-k t) / V``; both come out of the same linear system (tests check them).
    """
    validate_regimen(regimen, model)
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or np.any(t < 0) or np.any(np.diff(t) < 0) or not np.all(np.isfinite(t)):
        raise ValueError("times must be a non-empty, sorted sequence of non-negative minutes")
    lim = limits()
    if population < 0 or population > lim.max_population:
        raise ValueError(f"population must be 0-{lim.max_population}")
    an = model.default_analyte if analyte is None else model.analyte(analyte)
    typical_params = individual_parameters(model, regimen.patient, 1, None)
    typical = concentrations(model, regimen, t, typical_params, analyte=an.id, method=method)[0]
    pop: Array | None = None
    pct: dict[int, Array] | None = None
    if population > 0:
        rng = np.random.default_rng(seed)
        params = individual_parameters(model, regimen.patient, population, rng)
        pop = concentrations(model, regimen, t, params, analyte=an.id, method=method)
        q = np.percentile(pop.T, PERCENTILES, axis=1)  # pop.T is contiguous (T, N)
        pct = {p: q[i] for i, p in enumerate(PERCENTILES)}
        pop.setflags(write=False)
    t.setflags(write=False)
    typical.setflags(write=False)
    return Simulation(model.id, an.id, t, typical, pop, pct)
