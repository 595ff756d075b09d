"""Vitals simulator: seeded, BP rise peaking at 40 minutes, desaturation episodes, valid readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketaclinic.core.monitoring import Reading, VitalsSimulator, bp_rise_fraction, validate_compact

START = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def test_bp_rise_curve_peaks_at_40_minutes_and_fades_by_4_hours() -> None:
    assert bp_rise_fraction(0) == 0.0
    assert bp_rise_fraction(-5) == 0.0
    assert bp_rise_fraction(40) == pytest.approx(1.0)
    grid = [m / 2 for m in range(1, 600)]
    assert max(grid, key=bp_rise_fraction) == 40.0
    assert bp_rise_fraction(240) < 0.02


def test_same_seed_same_stream_different_patient_different_stream() -> None:
    a = [r.value for r in VitalsSimulator(seed=3, start=START).stream(50)]
    b = [r.value for r in VitalsSimulator(seed=3, start=START).stream(50)]
    c = [r.value for r in VitalsSimulator(seed=3, patient_index=1, start=START).stream(50)]
    assert a == b
    assert a != c


def test_timing_sequence_and_validity() -> None:
    sim = VitalsSimulator(seed=1, start=START, rate_hz=2.0)
    readings = list(sim.stream(4))
    assert [r.seq for r in readings] == list(range(1, 21))
    assert [r.time for r in readings[::5]] == [START + timedelta(seconds=0.5 * i) for i in range(4)]
    assert [r.code for r in readings[:5]] == ["8480-6", "8462-4", "8867-4", "59408-5", "9279-1"]
    now = START + timedelta(seconds=10)
    for r in readings:
        assert isinstance(validate_compact(r.compact(device="d", session="s"), now=now), Reading)


def test_mean_sbp_rise_at_40_minutes_matches_the_profile() -> None:
    rises = []
    for p in range(30):
        sim = VitalsSimulator(seed=11, patient_index=p, start=START, rate_hz=1 / 60, metrics=("sbp",))
        series = [r.value for r in sim.stream(61)]  # one reading per minute, 0..60 min
        rises.append(series[40] - series[0])
        assert sim.profile.sbp_rise >= 0
    mean = sum(rises) / len(rises)
    assert 8 < mean < 35  # profile mean ~ +16 mmHg (+ responders), noise sd ~ 3-4 mmHg


def test_desaturation_episodes_occur() -> None:
    sim = VitalsSimulator(seed=5, start=START, metrics=("spo2",), desat_per_hour=6.0)
    values = [r.value for r in sim.stream(3600)]
    assert min(values) <= 91
    assert sum(v >= 95 for v in values) > 2000  # mostly normal


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VitalsSimulator(seed=1, start=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="rate_hz"):
        VitalsSimulator(seed=1, start=START, rate_hz=0)
    with pytest.raises(ValueError, match="unknown metrics: glucose"):
        VitalsSimulator(seed=1, start=START, metrics=("glucose",))
