"""Benchmark the PK engine: virtual patients per second against opentiva and pytci (same regimen, same patients).

Scenarios (docs/clinical/pharmacokinetics.md, issue 7):

(a) racemic ketamine 0.5 mg/kg (35 mg, 70 kg) over 40 min, Domino, observed every minute for 24 h (1,441 points).
    Domino has no published variability, so every virtual patient gets a synthetic 30 % log-normal variability on
    V1 and each rate constant (benchmark only) so that all patients differ; the peers receive exactly the same
    per-patient constants.
(b) esketamine 84 mg intranasal (3 x 28 mg devices, 5 min apart), Perez-Ruixo 2021 with its published IIV,
    observed every minute for 24 h. Neither peer has an esketamine model, intranasal absorption or a metabolite,
    so (b) is compared with an independent scipy ODE solve (LSODA) looped over patients instead.

The peers run in their own virtual environment (bench/.venv-peers, created with `python -m venv` + pip on first
use, or given with --peers-python). They have no population mode, so they are looped over patients: over the
first --peer-patients patients (opentiva computes a per-second grid for 24 h and takes ~0.05-0.2 s per patient),
and their per-patient rate is compared with ours for 10,000 patients.

Run: python bench/pk.py [--patients 10000] [--peer-patients 200] [--peers-python PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ketaclinic.core.pk import Dose, Patient, Regimen, individual_parameters, load_model
from ketaclinic.core.pk.engine import _inputs, concentrations, system_matrix

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-peers"
PEER_PACKAGES = ["opentiva==1.1.2", "pytci==1.2.0"]
TIMES = np.arange(0.0, 1441.0)  # every minute for 24 h

PEERS_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
spec = json.load(open(sys.argv[1]))
out = {}
p = {k: np.array(v) for k, v in spec["params"].items()}
n = len(p["V1"])
rate_mg_min, minutes, horizon = spec["rate_mg_min"], spec["infusion_min"], spec["horizon_min"]

# opentiva 1.1.2: ketamine.Domino with this patient's constants, a Pump infusion in mcg/s, per-second grid.
import opentiva.ketamine as ok
import opentiva.pump as op
res = np.empty((n, horizon + 1))
t0 = time.perf_counter()
for i in range(n):
    m = ok.Domino(sex=0, age=40, weight=70, height=170)
    m.v1 = float(p["V1"][i])
    m.k10, m.k12, m.k13, m.k21, m.k31 = (float(p[k][i]) for k in ("k10", "k12", "k13", "k21", "k31"))
    pump = op.Pump(m, 10, horizon * 60 + 1)
    pump.add_infusion(start=0, dose=rate_mg_min * 1000 / 60, duration=minutes * 60)
    res[i] = pump.run()[::60, 1][: horizon + 1]
out["opentiva_seconds"] = time.perf_counter() - t0
np.save(spec["out"] + "_opentiva.npy", res)

# pytci 1.2.0: a Three subclass with the same constants, exact (matrix exponential) integrator, 1-min steps.
from PyTCI.models.base import Three

class DominoTCI(Three):
    def __init__(self, v1, k10, k12, k13, k21, k31):
        self.v1, self.k10, self.k12, self.k13, self.k21, self.k31, self.keo = v1, k10, k12, k13, k21, k31, 0.238
        self.setup()
        self.set_integrator("exact")

res = np.empty((n, horizon + 1))
t0 = time.perf_counter()
for i in range(n):
    m = DominoTCI(*(float(p[k][i]) for k in ("V1", "k10", "k12", "k13", "k21", "k31")))
    row = [0.0]
    for _ in range(minutes):
        row.append(m.giveoverseconds(rate_mg_min / 60, 60) * 1000)
    for _ in range(horizon - minutes):
        m.wait_time(60)
        row.append(m.x1 * 1000)
    res[i] = row
out["pytci_seconds"] = time.perf_counter() - t0
np.save(spec["out"] + "_pytci.npy", res)
json.dump(out, open(spec["out"] + ".json", "w"))
"""


def peers_python(explicit: str | None) -> Path | None:
    """The peers' interpreter: --peers-python, or bench/.venv-peers (created on first use)."""
    if explicit:
        return Path(explicit)
    py = VENV / "bin" / "python"
    check = [str(py), "-c", "import opentiva.pump, PyTCI.models.base"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    print(f"creating {VENV} (opentiva needs Cython to rebuild its C sources on Python 3.11) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q"]
    try:
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "cython", "numpy", "setuptools", "wheel", "scipy"], check=True)
        subprocess.run([*pip, "--no-build-isolation", PEER_PACKAGES[0]], check=True)
        subprocess.run([*pip, PEER_PACKAGES[1]], check=True)
    except subprocess.CalledProcessError as exc:
        print(f"could not install the peers ({exc}); continuing without them")
        return None
    return py


def best_of(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def domino_population(n: int, seed: int) -> dict[str, np.ndarray]:
    """Domino constants for n patients (70 kg) with a synthetic 30 % log-normal spread (benchmark only)."""
    m = load_model("domino")
    base = individual_parameters(m, Patient(70.0), n, None)
    rng = np.random.default_rng(seed)
    omega = np.sqrt(np.log1p(0.3**2))
    for k in ("V1", "k10", "k12", "k13", "k21", "k31"):
        base[k] = base[k] * np.exp(rng.normal(0.0, omega, n))
    return base


def scenario_a(args: argparse.Namespace) -> None:
    print("\n(a) Domino, ketamine 0.5 mg/kg (35 mg, 70 kg) over 40 min, every minute for 24 h (1,441 points)")
    model = load_model("domino")
    regimen = Regimen(Patient(70.0), (Dose("ketamine", "iv", 35.0, 0.0, 40.0),))
    params = domino_population(args.patients, args.seed)
    ours = concentrations(model, regimen, TIMES, params)
    t_ours = best_of(lambda: concentrations(model, regimen, TIMES, params), args.repeats)
    rate_ours = args.patients / t_ours
    print(f"  ketaclinic : {args.patients} patients in {t_ours * 1000:.0f} ms -> {rate_ours:,.0f} patients/s")
    py = peers_python(args.peers_python)
    if py is None:
        print("  peers      : not available")
        return
    n = min(args.peer_patients, args.patients)
    with tempfile.TemporaryDirectory() as tmp:
        spec = {
            "params": {k: params[k][:n].tolist() for k in ("V1", "k10", "k12", "k13", "k21", "k31")},
            "rate_mg_min": 35.0 / 40.0,
            "infusion_min": 40,
            "horizon_min": 1440,
            "out": str(Path(tmp) / "peers"),
        }
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps(spec))
        subprocess.run([str(py), "-c", PEERS_SCRIPT, str(spec_file)], check=True)
        timings = json.loads((Path(tmp) / "peers.json").read_text())
        results = {name: np.load(Path(tmp) / f"peers_{name}.npy") for name in ("opentiva", "pytci")}
    peak = float(np.abs(ours[:n]).max())
    rates = {}
    for name, conc in results.items():
        rate = n / timings[f"{name}_seconds"]
        rates[name] = rate
        diff = float(np.abs(conc - ours[:n]).max())
        print(
            f"  {name:<11}: {n} patients looped in {timings[f'{name}_seconds']:.2f} s -> {rate:,.1f} patients/s; "
            f"max |difference| {diff:.2e} ng/mL ({diff / peak:.1e} of the peak {peak:.0f} ng/mL)"
        )
    fastest = max(rates, key=lambda k: rates[k])
    print(f"  speed ratio: {rate_ours / rates[fastest]:,.0f}x the faster peer ({fastest}) per patient")


def _ode_reference(model_id: str, regimen: Regimen, params: dict[str, np.ndarray], i: int) -> np.ndarray:
    """One patient with scipy LSODA on the full linear system (independent integrator)."""
    from scipy.integrate import solve_ivp

    model = load_model(model_id)
    p1 = {k: v[i : i + 1] for k, v in params.items()}
    a = system_matrix(model, p1)[0]
    pos = {s: s for s in range(len(model.compartments))}
    boluses, infusions = _inputs(model, regimen, p1, pos, 1)
    breaks = sorted(
        {
            0.0,
            TIMES[-1],
            *(b.time for b in boluses),
            *(f.start for f in infusions),
            *(f.end for f in infusions),
        }
    )
    central = model.default_analyte.compartment
    c_idx = model.state_index[central]
    vol = float(p1[next(c.volume for c in model.compartments if c.id == central)][0])  # type: ignore[index]
    x = np.zeros(len(model.compartments))
    out = np.zeros(len(TIMES))
    for t0, t1 in itertools.pairwise(breaks):
        for b in boluses:
            if b.time == t0:
                x[b.state] += b.amount[0]
        u = np.zeros_like(x)
        for f in infusions:
            if f.start <= t0 < f.end:
                u[f.state] += f.rate[0]
        sol = solve_ivp(
            lambda t, y, u=u: a @ y + u,
            (t0, t1),
            x,
            method="LSODA",
            rtol=1e-10,
            atol=1e-14,
            dense_output=True,
        )
        inside = (t0 <= TIMES) & (t1 >= TIMES)
        out[inside] = sol.sol(TIMES[inside])[c_idx] / vol * 1000
        x = sol.y[:, -1]
    return out


def scenario_b(args: argparse.Namespace) -> None:
    print(
        "\n(b) Perez-Ruixo 2021, esketamine 84 mg intranasal (3 x 28 mg, 5 min apart), every minute for 24 h"
    )
    model = load_model("perez-ruixo-2021")
    regimen = Regimen(Patient(70.0), (Dose("esketamine", "intranasal", 84.0, 0.0),))
    params = individual_parameters(model, Patient(70.0), args.patients, np.random.default_rng(args.seed))
    ours = concentrations(model, regimen, TIMES, params)
    t_ours = best_of(lambda: concentrations(model, regimen, TIMES, params), args.repeats)
    rate_ours = args.patients / t_ours
    print(f"  ketaclinic : {args.patients} patients in {t_ours * 1000:.0f} ms -> {rate_ours:,.0f} patients/s")
    print("  opentiva / pytci: not supported (no esketamine model, no intranasal absorption, no metabolite)")
    n = min(args.ode_patients, args.patients)
    t0 = time.perf_counter()
    ref = np.array([_ode_reference(model.id, regimen, params, i) for i in range(n)])
    t_ode = time.perf_counter() - t0
    diff = float(np.abs(ref - ours[:n]).max())
    peak = float(ours[:n].max())
    print(
        f"  scipy LSODA: {n} patients looped in {t_ode:.2f} s -> {n / t_ode:,.1f} patients/s; max |difference| "
        f"{diff:.2e} ng/mL ({diff / peak:.1e} of the peak {peak:.0f} ng/mL); ratio {rate_ours / (n / t_ode):,.0f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--peer-patients", type=int, default=200, help="patients looped through each peer")
    ap.add_argument("--ode-patients", type=int, default=100, help="patients looped through scipy in (b)")
    ap.add_argument("--peers-python", default=None, help="interpreter with opentiva and pytci installed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20240101)
    args = ap.parse_args()
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    scenario_a(args)
    scenario_b(args)


if __name__ == "__main__":
    main()
