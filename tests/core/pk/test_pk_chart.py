"""The concentration chart: well-formed accessible SVG with the typical curve, band, range and disclaimer."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ketaclinic.core.pk import Dose, Patient, Regimen, load_model, simulate
from ketaclinic.core.pk.chart import concentration_svg, simulation_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_chart_structure_and_accessibility() -> None:
    svg = concentration_svg(
        [0, 10, 20, 30, 40],
        [0, 50, 120, 200, 150],
        lower=[0, 30, 80, 150, 100],
        upper=[0, 80, 160, 260, 210],
        title="Order <draft> & course",
        dose_times_min=[0],
    )
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "pk-title pk-desc"
    assert root.find("s:title", NS).text == "Order <draft> & course"  # type: ignore[union-attr]
    desc = root.find("s:desc", NS).text  # type: ignore[union-attr]
    assert desc == (
        "ketamine typical-patient prediction: peak 200 ng/mL at 30 min; about 20 min within 100-250 ng/mL. "
        "At the peak, 90 % of virtual patients are between 150 and 260 ng/mL. "
        "Decision support — not a dosing instruction."
    )
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Dissociative range 100-250 ng/mL" in texts
    assert "Decision support — not a dosing instruction" in texts
    assert "Time (min)" in texts and "ketamine (ng/mL)" in texts
    assert len(root.findall(".//s:polygon[@class='kc-pk-band']", NS)) == 1
    assert len(root.findall(".//s:polyline[@class='kc-pk-typical']", NS)) == 1
    assert len(root.findall(".//s:path[@class='kc-pk-dose']", NS)) == 1


def test_range_is_placed_exactly() -> None:
    # plot area: top 40, height 320 - 40 - 52 = 228; y axis 0..300 (step 50, 260 * 1.05 -> 300)
    root = _parse(concentration_svg([0, 10], [0, 260]))
    rect = root.find(".//s:rect[@class='kc-pk-range']", NS)
    assert rect is not None
    assert float(rect.get("y", "")) == pytest.approx(40 + 228 - 250 / 300 * 228, abs=0.06)
    assert float(rect.get("height", "")) == pytest.approx(150 / 300 * 228, abs=0.11)


def test_no_band_without_percentiles_and_hours_for_long_spans() -> None:
    root = _parse(concentration_svg(list(range(0, 1441, 60)), [max(0.0, 200 - i) for i in range(25)]))
    assert root.findall(".//s:polygon", NS) == []
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Time (h)" in texts


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times_min": [0], "typical": [0]}, "at least 2"),
        ({"times_min": [0, 1], "typical": [0, 1], "lower": [0, 1]}, "give both lower and upper"),
        ({"times_min": [5, 1], "typical": [0, 1]}, "ascending"),
    ],
)
def test_bad_input(kwargs: dict[str, list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        concentration_svg(**kwargs)  # type: ignore[arg-type]


def test_simulation_svg_uses_the_5_95_band() -> None:
    sim = simulate(
        Regimen(Patient(70.0), (Dose("esketamine", "intranasal", 84.0, 0.0),)),
        load_model("perez-ruixo-2021"),
        np.arange(0.0, 241.0, 5.0),
        population=300,
        seed=5,
    )
    root = _parse(simulation_svg(sim, title="t", model_name="Perez-Ruixo 2021", dose_times_min=[0, 5, 10]))
    desc = root.find("s:desc", NS).text or ""  # type: ignore[union-attr]
    assert desc.startswith(
        "esketamine typical-patient prediction (Perez-Ruixo 2021): peak 101 ng/mL at 45 min"
    )
    assert len(root.findall(".//s:path[@class='kc-pk-dose']", NS)) == 3
