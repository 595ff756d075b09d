"""Accessible SVG chart of a predicted concentration curve (typical, 5-95 % band, dissociative range) for the web layer."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources

from ketaclinic.core.pk.engine import Simulation
from ketaclinic.core.yamlfile import load_yaml

__all__ = ["ChartSettings", "chart_settings", "concentration_svg", "simulation_svg"]


@dataclass(frozen=True, slots=True)
class ChartSettings:
    """Marked range and labels (data/display.yaml)."""

    range_low: float
    range_high: float
    range_label: str
    range_source: str
    disclaimer: str
    default_models: tuple[tuple[str, str, str], ...] = ()

    def default_model(self, drug: str) -> tuple[str, str]:
        """(model id, reason) shown by default for a drug; KeyError if none is configured."""
        for d, model_id, reason in self.default_models:
            if d == drug:
                return model_id, reason
        raise KeyError(drug)


@cache
def chart_settings() -> ChartSettings:
    """Load and validate data/display.yaml."""
    raw = load_yaml(
        (resources.files("ketaclinic.core.pk") / "data" / "display.yaml").read_text(encoding="utf-8")
    )
    try:
        r = raw["dissociation_range_ng_ml"]
        defaults = tuple(
            (str(drug), str(v["model"]), str(v["reason"]))
            for drug, v in (raw.get("default_models") or {}).items()
        )
        out = ChartSettings(
            float(r["low"]),
            float(r["high"]),
            str(r["label"]),
            str(r["source"]),
            str(raw["disclaimer"]),
            defaults,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"display.yaml: malformed ({exc})") from exc
    if not 0 <= out.range_low < out.range_high or not out.disclaimer:
        raise ValueError("display.yaml: dissociation range must satisfy 0 <= low < high")
    from ketaclinic.core.pk.model import load_model

    for drug, model_id, _ in out.default_models:
        if load_model(model_id).drug != drug:
            raise ValueError(
                f"display.yaml: default_models.{drug}: model {model_id} does not simulate {drug}"
            )
    return out


def _nice_step(span: float, target_ticks: int) -> float:
    raw = span / max(target_ticks, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return float(m * mag)
    return float(10 * mag)


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def concentration_svg(
    times_min: Sequence[float],
    typical: Sequence[float],
    *,
    lower: Sequence[float] | None = None,
    upper: Sequence[float] | None = None,
    title: str = "Predicted plasma concentration",
    analyte: str = "ketamine",
    model_name: str = "",
    dose_times_min: Sequence[float] = (),
    width: int = 640,
    height: int = 320,
) -> str:
    """Render a predicted concentration curve as a self-contained, accessible SVG string.

    Parameters
    ----------
    times_min, typical : sequences of float
        Time (min) and the typical-patient concentration (ng/mL), same length (>= 2), times ascending.
    lower, upper : sequences of float, optional
        The band (e.g. 5th and 95th percentiles), drawn as a shaded area when both are given.
    title, analyte, model_name : str
        Text for the title and the description (escaped).
    dose_times_min : sequence of float
        Dose start times, marked on the time axis.
    width, height : int
        Size in px (the SVG also has a viewBox and scales).

    Returns
    -------
    str
        ``<svg role="img" aria-labelledby=...>`` with ``<title>`` and ``<desc>`` (peak, time of peak, time in the
        dissociative range, band at the peak), axes with ticks and units, the dissociative range (data/display.yaml)
        shaded and labelled, and the "Decision support — not a dosing instruction" label.
    """
    n = len(times_min)
    if n < 2 or len(typical) != n:
        raise ValueError("times_min and typical must have the same length (at least 2)")
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper for a band, or neither")
    if lower is not None and upper is not None and (len(lower) != n or len(upper) != n):
        raise ValueError("lower and upper must have the same length as times_min")
    t = [float(x) for x in times_min]
    if any(b < a for a, b in itertools.pairwise(t)):
        raise ValueError("times_min must be ascending")
    settings = chart_settings()
    y_typ = [max(0.0, float(v)) for v in typical]
    y_lo = [max(0.0, float(v)) for v in lower] if lower is not None else None
    y_hi = [max(0.0, float(v)) for v in upper] if upper is not None else None

    left, right, top, bottom = 64, 16, 40, 52
    pw, ph = width - left - right, height - top - bottom
    t0, t1 = t[0], t[-1] if t[-1] > t[0] else t[0] + 1
    use_hours = (t1 - t0) > 180
    unit_div = 60.0 if use_hours else 1.0
    y_max_data = max([*y_typ, *(y_hi or []), settings.range_high])
    y_step = _nice_step(y_max_data, 5)
    y_top = math.ceil(y_max_data * 1.05 / y_step) * y_step

    def sx(v: float) -> float:
        return left + (v - t0) / (t1 - t0) * pw

    def sy(v: float) -> float:
        return top + ph - v / y_top * ph

    def pts(xs: Sequence[float], ys: Sequence[float]) -> str:
        return " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(xs, ys, strict=True))

    peak_i = max(range(n), key=lambda i: y_typ[i])
    in_range = sum(
        t[i + 1] - t[i]
        for i in range(n - 1)
        if settings.range_low <= y_typ[i] <= settings.range_high
        and settings.range_low <= y_typ[i + 1] <= settings.range_high
    )
    desc = (
        f"{analyte} typical-patient prediction{' (' + model_name + ')' if model_name else ''}: "
        f"peak {y_typ[peak_i]:.0f} ng/mL at {_fmt(t[peak_i])} min; "
        f"about {in_range:.0f} min within {settings.range_low:.0f}-{settings.range_high:.0f} ng/mL."
    )
    if y_lo is not None and y_hi is not None:
        desc += f" At the peak, 90 % of virtual patients are between {y_lo[peak_i]:.0f} and {y_hi[peak_i]:.0f} ng/mL."
    desc += f" {settings.disclaimer}."

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="pk-title pk-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" class="kc-pk-chart">',
        f'<title id="pk-title">{escape(title)}</title>',
        f'<desc id="pk-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # dissociative range
    r_top, r_bot = sy(settings.range_high), sy(settings.range_low)
    out.append(
        f'<rect class="kc-pk-range" x="{left}" y="{r_top:.1f}" width="{pw}" height="{r_bot - r_top:.1f}" '
        f'fill="#f2e6ff" stroke="#8a5cc2" stroke-dasharray="4 3"><title>{escape(settings.range_source)}</title></rect>'
    )
    out.append(
        f'<text x="{left + pw - 6}" y="{r_top + 14:.1f}" text-anchor="end" font-size="12" fill="#5b2c91">'
        f"{escape(settings.range_label)}</text>"
    )
    # axes and ticks
    out.append('<g class="kc-pk-axes" stroke="#333" font-size="11" fill="#333">')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/>')
    v = 0.0
    while v <= y_top + 1e-9:
        y = sy(v)
        out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}"/>')
        out.append(f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" stroke="none">{_fmt(v)}</text>')
        v += y_step
    x_span = (t1 - t0) / unit_div
    x_step = _nice_step(x_span, 6) * unit_div
    v = math.ceil(t0 / x_step) * x_step
    while v <= t1 + 1e-9:
        x = sx(v)
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}"/>')
        out.append(
            f'<text x="{x:.1f}" y="{top + ph + 17}" text-anchor="middle" stroke="none">{_fmt(v / unit_div)}</text>'
        )
        v += x_step
    out.append("</g>")
    x_label = "Time (h)" if use_hours else "Time (min)"
    out.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 24}" text-anchor="middle" font-size="12">{x_label}</text>'
    )
    out.append(
        f'<text x="14" y="{top + ph / 2:.1f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {top + ph / 2:.1f})">{escape(analyte)} (ng/mL)</text>'
    )
    # band and curve
    if y_lo is not None and y_hi is not None:
        poly = pts(t, y_hi) + " " + pts(t[::-1], y_lo[::-1])
        out.append(
            f'<polygon class="kc-pk-band" points="{poly}" fill="#4a90d9" fill-opacity="0.25" stroke="none">'
            f"<title>5-95 % of virtual patients</title></polygon>"
        )
    out.append(
        f'<polyline class="kc-pk-typical" points="{pts(t, y_typ)}" fill="none" stroke="#1f4e8c" stroke-width="2">'
        f"<title>typical patient</title></polyline>"
    )
    for d in dose_times_min:
        if t0 <= d <= t1:
            x = sx(float(d))
            out.append(
                f'<path class="kc-pk-dose" d="M{x:.1f},{top + ph + 1} l-4,8 h8 z" fill="#333"><title>dose at {_fmt(float(d))} min</title></path>'
            )
    # legend and disclaimer
    legend_y = 16
    out.append(
        f'<g font-size="11"><line x1="{left}" y1="{legend_y}" x2="{left + 18}" y2="{legend_y}" stroke="#1f4e8c" stroke-width="2"/>'
    )
    out.append(f'<text x="{left + 22}" y="{legend_y + 4}">typical patient</text>')
    if y_lo is not None:
        out.append(
            f'<rect x="{left + 120}" y="{legend_y - 6}" width="18" height="12" fill="#4a90d9" fill-opacity="0.25"/>'
        )
        out.append(f'<text x="{left + 142}" y="{legend_y + 4}">5-95 % of virtual patients</text>')
    out.append("</g>")
    out.append(
        f'<text class="kc-pk-disclaimer" x="{width - right}" y="{height - 6}" text-anchor="end" font-size="12" '
        f'font-weight="bold" fill="#8a1c1c">{escape(settings.disclaimer)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def simulation_svg(
    sim: Simulation, *, title: str, model_name: str = "", dose_times_min: Sequence[float] = ()
) -> str:
    """:func:`concentration_svg` for a :class:`Simulation` (band = its 5th and 95th percentiles, if any)."""
    lower = upper = None
    if sim.percentiles is not None:
        lower, upper = list(sim.percentiles[5]), list(sim.percentiles[95])
    return concentration_svg(
        list(sim.times_min),
        list(sim.typical),
        lower=lower,
        upper=upper,
        title=title,
        analyte=sim.analyte,
        model_name=model_name,
        dose_times_min=dose_times_min,
    )
