"""Exactness: agreement with independent scipy ODE solutions (1e-6 relative), analytic solutions, singular cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
from pk_helpers import intranasal, iv_infusion, one_compartment_oral
from scipy.integrate import solve_ivp

from ketaclinic.core.pk import (
    Dose,
    Patient,
    Regimen,
    individual_parameters,
    load_model,
    parse_model,
    simulate,
)
from ketaclinic.core.pk.engine import concentrations, system_matrix
from ketaclinic.core.pk.linalg import expm_batched

RTOL = 1e-6


def _piecewise_ode(rhs, y0, breaks, t_obs, jumps=None):  # type: ignore[no-untyped-def]
    """Integrate between breakpoints (inputs constant inside), applying bolus jumps at breakpoints."""
    y = np.array(y0, dtype=float)
    out = {}
    points = sorted(set(breaks) | {0.0, float(max(t_obs))})
    jumps = jumps or {}
    for a, b in itertools.pairwise(points):
        for j in jumps.get(a, []):
            y = y + j
        sol = solve_ivp(
            lambda t, x, a=a: rhs(a, x), (a, b), y, method="DOP853", rtol=1e-13, atol=1e-16, dense_output=True
        )
        for t in t_obs:
            if a <= t <= b and float(t) not in out:
                out[float(t)] = sol.sol(t)
        y = sol.y[:, -1]
    return out


def _assert_close(engine: np.ndarray, reference: np.ndarray) -> None:
    mask = reference > 1e-6 * reference.max()
    rel = np.abs(engine[mask] - reference[mask]) / reference[mask]
    assert rel.max() < RTOL, rel.max()


def test_domino_against_hand_written_odes() -> None:
    v1, k10, k12, k13, k21, k31, ke0 = 0.063 * 70, 0.4381, 0.5921, 0.5900, 0.2470, 0.0146, 0.238
    rate = 35.0 / 40.0

    def rhs(seg_start: float, x: np.ndarray) -> np.ndarray:
        r = rate if seg_start < 40 else 0.0
        a1, a2, a3, ce = x
        return np.array(
            [
                -(k10 + k12 + k13) * a1 + k21 * a2 + k31 * a3 + r,
                k12 * a1 - k21 * a2,
                k13 * a1 - k31 * a3,
                ke0 * (a1 / v1 - ce),
            ]
        )

    t_obs = [0.5, 1, 2, 5, 10, 20, 39.9, 40, 41, 45, 60, 80, 110, 230, 280, 600, 1440]
    ref = _piecewise_ode(rhs, [0, 0, 0, 0], [0.0, 40.0], t_obs)
    cp = np.array([ref[t][0] / v1 * 1000 for t in t_obs])
    ce = np.array([ref[t][3] * 1000 for t in t_obs])
    m = load_model("domino")
    for method in ("auto", "modal", "expm"):
        _assert_close(simulate(iv_infusion(), m, t_obs, method=method).typical, cp)  # type: ignore[arg-type]
        _assert_close(
            simulate(iv_infusion(), m, t_obs, analyte="ketamine_effect_site", method=method).typical, ce
        )  # type: ignore[arg-type]


def test_herd_child_allometry_against_odes() -> None:
    w = 20.0
    v1, v2 = 38.7 * w / 70, 102 * w / 70
    cl, q = 90 * (w / 70) ** 0.75 / 60, 215 * (w / 70) ** 0.75 / 60

    def rhs(seg_start: float, x: np.ndarray) -> np.ndarray:
        r = 10.0 / 5.0 if seg_start < 5 else 0.0
        a1, a2 = x
        return np.array([-(cl + q) / v1 * a1 + q / v2 * a2 + r, q / v1 * a1 - q / v2 * a2])

    t_obs = [1, 5, 10, 30, 60, 120, 240]
    ref = _piecewise_ode(rhs, [0, 0], [0.0, 5.0], t_obs)
    cp = np.array([ref[t][0] / v1 * 1000 for t in t_obs])
    reg = Regimen(Patient(w), (Dose("ketamine", "iv", 10.0, 0.0, 5.0),))
    _assert_close(simulate(reg, load_model("herd-2007"), t_obs).typical, cp)


def _perez_ruixo_reference(p: dict[str, float], t_min: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Perez-Ruixo 2021 written out in hours from the published equations (nlmixr2lib encoding), 84 mg IN."""
    ka_n, ka_sw, vc, q1, vp, q2, vp2 = p["ka_n"], p["ka_sw"], p["Vc"], p["Q1"], p["Vp1"], p["Q2"], p["Vp2"]
    qh, vh, kel, kmet, vcn, cln, q3, vpn = (
        p["Qh"],
        p["Vh"],
        p["kel"],
        p["kmet"],
        p["Vcn"],
        p["CLn"],
        p["Q3"],
        p["Vpn"],
    )
    dsw, fgut = p["Dsw"], p["Fgut"]
    devices = [0.0, 5 / 60, 10 / 60]
    frn = [p["FRn"], p["FRn"] * 0.62, p["FRn"] * 0.62]

    def rhs(seg_start: float, x: np.ndarray) -> np.ndarray:
        depot, depot2, c, p1, p2, liver, cn, pn = x
        inflow = sum(
            28 * (1 - f) * fgut / dsw for d, f in zip(devices, frn, strict=True) if d <= seg_start < d + dsw
        )
        return np.array(
            [
                -ka_n * depot,
                -ka_sw * depot2 + inflow,
                ka_n * depot + q1 / vp * p1 + q2 / vp2 * p2 + qh / vh * liver - (q1 + q2 + qh) / vc * c,
                q1 / vc * c - q1 / vp * p1,
                q2 / vc * c - q2 / vp2 * p2,
                ka_sw * depot2 + qh / vc * c - (qh / vh + kel + kmet) * liver,
                kmet * liver + q3 / vpn * pn - (cln / vcn + q3 / vcn) * cn,
                q3 / vcn * cn - q3 / vpn * pn,
            ]
        )

    jumps: dict[float, list[np.ndarray]] = {}
    for d, f in zip(devices, frn, strict=True):
        jumps.setdefault(d, []).append(np.array([28 * f, 0, 0, 0, 0, 0, 0, 0]))
    breaks = devices + [d + dsw for d in devices]
    t_h = [t / 60 for t in t_min]
    ref = _piecewise_ode(rhs, np.zeros(8), breaks, t_h, jumps)
    es = np.array([ref[t][2] / vc * 1000 for t in t_h])
    nor = np.array([ref[t][6] / vcn * 1000 for t in t_h])
    return es, nor


PUBLISHED = {
    "FRn": 0.54,
    "ka_n": 2.93,
    "Dsw": 0.53,
    "ka_sw": 1.45,
    "Fgut": 0.64,
    "Vc": 192.0,
    "Q1": 84.3,
    "Vp1": 143.0,
    "Q2": 37.6,
    "Vp2": 417.0,
    "Qh": 151.0,
    "Vh": 101.0,
    "kel": 1.11,
    "kmet": 2.77,
    "Vcn": 70.0,
    "CLn": 38.0,
    "Q3": 26.1,
    "Vpn": 115.0,
}
T_PR = [1, 3, 5, 7, 10, 12, 20, 30, 44, 60, 90, 120, 240, 480, 1440]


def test_perez_ruixo_typical_against_hand_written_odes() -> None:
    es_ref, nor_ref = _perez_ruixo_reference(PUBLISHED, T_PR)
    m = load_model("perez-ruixo-2021")
    _assert_close(simulate(intranasal(84.0), m, T_PR).typical, es_ref)
    _assert_close(simulate(intranasal(84.0), m, T_PR, analyte="noresketamine").typical, nor_ref)


def test_perez_ruixo_virtual_patients_against_odes() -> None:
    m = load_model("perez-ruixo-2021")
    params = individual_parameters(m, Patient(70.0), 3, np.random.default_rng(7))
    es = concentrations(m, intranasal(84.0), np.array(T_PR, dtype=float), params)
    nor = concentrations(m, intranasal(84.0), np.array(T_PR, dtype=float), params, analyte="noresketamine")
    per_hour = {"ka_n", "ka_sw", "kel", "kmet", "Q1", "Q2", "Qh", "CLn", "Q3"}
    for i in range(3):
        p = {k: float(params[k][i]) * (60.0 if k in per_hour else 1.0) for k in PUBLISHED}
        p["Dsw"] = float(params["Dsw"][i]) / 60.0
        es_ref, nor_ref = _perez_ruixo_reference(p, T_PR)
        _assert_close(es[i], es_ref)
        _assert_close(nor[i], nor_ref)


@pytest.mark.parametrize(
    ("model_id", "route", "drug"),
    [
        ("domino", "im", "ketamine"),
        ("domino", "oral", "ketamine"),
        ("clements", "sublingual", "ketamine"),
        ("kamp-2020", "oral", "ketamine"),
        ("hijazi", "iv", "ketamine"),
        ("perez-ruixo-2021", "oral", "esketamine"),
        ("perez-ruixo-2021", "iv", "esketamine"),
    ],
)
def test_every_route_against_an_ode_of_the_full_system(model_id: str, route: str, drug: str) -> None:
    m = load_model(model_id)
    params = individual_parameters(m, Patient(80.0), 1, None)
    a = system_matrix(m, params)[0]
    idx = m.state_index
    amount = 42.0
    reg = Regimen(Patient(80.0), (Dose(drug, route, amount, 3.0),))
    (inp, *_rest) = m.routes[route].inputs
    frac = 1.0
    for term in inp.fraction:
        frac *= 1 - params[term[2:]][0] if term.startswith("1-") else params[term][0]
    u = np.zeros(len(m.compartments))
    dur = None if inp.duration is None else float(params[inp.duration][0])
    if dur is not None:
        u[idx[inp.to]] = amount * frac / dur
    jump = np.zeros(len(m.compartments))
    if dur is None:
        jump[idx[inp.to]] = amount * frac

    def rhs(seg_start: float, x: np.ndarray) -> np.ndarray:
        active = dur is not None and 3.0 <= seg_start < 3.0 + dur
        return a @ x + (u if active else 0.0)

    t_obs = [4, 6, 10, 20, 30, 45, 60, 120, 360, 720]
    breaks = [3.0] + ([3.0 + dur] if dur is not None else [])
    ref = _piecewise_ode(rhs, np.zeros(len(m.compartments)), breaks, t_obs, {3.0: [jump]})
    central = m.default_analyte.compartment
    vol = params[next(c.volume for c in m.compartments if c.id == central)][0]  # type: ignore[index]
    expected = np.array([ref[t][idx[central]] / vol * 1000 for t in t_obs])
    _assert_close(simulate(reg, m, t_obs).typical, expected)


def _bateman(t: np.ndarray, ka: float, k: float, v: float, f: float, d: float) -> np.ndarray:
    if abs(ka - k) <= 1e-6 * k:  # the Bateman form cancels catastrophically here; use the ka == k limit
        return f * d * k * t * np.exp(-k * t) / v * 1000
    return f * d * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t)) * 1000


@pytest.mark.parametrize(("ka", "k"), [(0.05, 0.01), (0.01, 0.05), (0.02, 0.02), (0.02, 0.02 * (1 + 1e-9))])
def test_one_compartment_oral_matches_closed_form_including_ka_equal_k(ka: float, k: float) -> None:
    m = parse_model(one_compartment_oral(ka, k))
    t = np.array([0.0, 1, 5, 30, 50, 120, 600, 1440])
    reg = Regimen(Patient(70.0), (Dose("ketamine", "oral", 100.0, 0.0),))
    sim = simulate(reg, m, t)
    rtol = (
        1e-12 if ka == k or abs(ka - k) > 1e-6 * k else 1e-8
    )  # near-singular: the limit itself differs by ~1e-9
    np.testing.assert_allclose(sim.typical, _bateman(t, ka, k, 50.0, 0.8, 100.0), rtol=rtol, atol=1e-12)


def test_singular_case_is_routed_to_the_matrix_exponential() -> None:
    m = parse_model(one_compartment_oral(0.02, 0.02))
    reg = Regimen(Patient(70.0), (Dose("ketamine", "oral", 100.0, 0.0),))
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        simulate(reg, m, [10.0], method="modal")
    t = 50.0  # C(t) = F D k t exp(-k t) / V, the peak is at t = 1/k = 50 min
    expected = 0.8 * 100 * 0.02 * t * math.exp(-0.02 * t) / 50 * 1000
    assert simulate(reg, m, [t]).typical[0] == pytest.approx(expected, rel=1e-12)


def test_expm_batched_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(40, 7, 7)) * rng.uniform(0.001, 40, size=(40, 1, 1))
    ours = expm_batched(a)
    for i in range(40):
        ref = scipy.linalg.expm(a[i])
        assert np.max(np.abs(ours[i] - ref)) <= 1e-10 * np.max(np.abs(ref))


def test_observation_at_a_bolus_time_includes_the_bolus() -> None:
    m = load_model("domino")
    reg = Regimen(Patient(70.0), (Dose("ketamine", "iv", 10.0, 5.0),))
    c = simulate(reg, m, [4.999, 5.0]).typical
    assert c[0] == 0.0
    assert c[1] == pytest.approx(10.0 / (0.063 * 70) * 1000, rel=1e-12)


def test_duplicate_observation_times_are_allowed() -> None:
    c = simulate(iv_infusion(), load_model("domino"), [40.0, 40.0, 80.0]).typical
    assert c[0] == c[1] and round(float(c[0]), 2) == 240.33


def test_complex_eigenvalues_cycle_matches_matrix_exponential() -> None:
    """A one-way cycle (a -> b -> c -> a, elimination from a) has complex eigenvalues; modal == expm."""
    data = one_compartment_oral(0.05, 0.01)
    data["parameters"]["kc"] = {"value": 0.3, "unit": "1/min", "status": "R", "source": "test"}
    data["compartments"] = [{"id": "gut"}, {"id": "central", "volume": "V"}, {"id": "b"}, {"id": "c"}]
    data["flows"] = [
        {"from": "gut", "to": "central", "rate": "ka"},
        {"from": "central", "to": "out", "rate": "k"},
        {"from": "central", "to": "b", "rate": "kc"},
        {"from": "b", "to": "c", "rate": "kc"},
        {"from": "c", "to": "central", "rate": "kc"},
    ]
    m = parse_model(data)
    a = system_matrix(m, individual_parameters(m, Patient(70.0)))
    assert np.abs(np.linalg.eigvals(a[0]).imag).max() > 0.1
    reg = Regimen(
        Patient(70.0), (Dose("ketamine", "oral", 100.0, 0.0), Dose("ketamine", "iv", 20.0, 30.0, 15.0))
    )
    t = np.linspace(0.0, 600.0, 301)
    modal = simulate(reg, m, t, method="modal").typical
    expm = simulate(reg, m, t, method="expm").typical
    np.testing.assert_allclose(modal, expm, rtol=1e-9, atol=1e-9 * float(expm.max()))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auto_and_expm_agree_for_virtual_patients(seed: int) -> None:
    m = load_model("perez-ruixo-2021")
    reg = Regimen(
        Patient(70.0, age=72.0),
        (Dose("esketamine", "intranasal", 56.0, 0.0), Dose("esketamine", "oral", 84.0, 200.0)),
    )
    t = np.arange(0.0, 721.0, 3.0)
    auto = simulate(reg, m, t, population=200, seed=seed, analyte="noresketamine").population
    expm = simulate(reg, m, t, population=200, seed=seed, analyte="noresketamine", method="expm").population
    assert auto is not None and expm is not None
    np.testing.assert_allclose(auto, expm, rtol=1e-7, atol=1e-9 * float(expm.max()))
