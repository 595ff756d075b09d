"""Pharmacokinetic models as data: immutable definitions, and the loader that validates the YAML files in data/models."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from ketaclinic.core.yamlfile import load_yaml

__all__ = [
    "Analyte",
    "Compartment",
    "Device",
    "Flow",
    "Iiv",
    "Model",
    "ModelError",
    "Parameter",
    "Route",
    "RouteInput",
    "list_models",
    "load_model",
    "parse_model",
]

Status = Literal["V", "S", "R"]
STATUSES: frozenset[str] = frozenset({"V", "S", "R"})
ROUTES: frozenset[str] = frozenset({"iv", "im", "intranasal", "oral", "sublingual"})
DRUGS: frozenset[str] = frozenset({"ketamine", "esketamine"})

# unit -> (kind, factor to the engine's units: minutes, litres, L/min, 1/min, mg)
_UNITS: dict[str, tuple[str, float]] = {
    "L": ("volume", 1.0),
    "L/kg": ("volume", 1.0),
    "1/min": ("rate", 1.0),
    "1/h": ("rate", 1.0 / 60.0),
    "L/min": ("clearance", 1.0),
    "L/h": ("clearance", 1.0 / 60.0),
    "min": ("duration", 1.0),
    "h": ("duration", 60.0),
    "fraction": ("fraction", 1.0),
}


class ModelError(ValueError):
    """A model file (or mapping) is malformed; the message names the file and the offending field."""


@dataclass(frozen=True, slots=True)
class Iiv:
    """Between-subject variability of one parameter.

    ``kind == "lognormal"``: P_i = P_typ * exp(eta), eta ~ N(0, omega^2), omega^2 = ln(1 + CV^2).
    ``kind == "logit"``: logit(P_i) = logit(P_typ) + eta, eta ~ N(0, sd^2) (fractions).
    """

    kind: Literal["lognormal", "logit"]
    omega: float
    status: Status
    cv_percent: float | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    """One model parameter, already converted to engine units (min, L, L/min, 1/min).

    The individual value is ``(value * size(weight) + age_slope * max(0, age - age_above)) * exp(eta) *
    product(factors[flag] for the patient's flags)`` where ``size`` is 1, ``weight`` (per kg) or
    ``(weight / reference_kg) ** exponent`` (allometric); for ``logit`` IIV the eta is added on the logit scale.
    """

    name: str
    value: float
    unit: str
    kind: str
    status: Status
    source: str
    published_value: float
    per_kg: bool = False
    allometric_reference_kg: float | None = None
    allometric_exponent: float | None = None
    age_above_years: float | None = None
    age_per_year: float = 0.0
    iiv: Iiv | None = None
    factors: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Compartment:
    """A state of the linear system: an amount (mg) or, for an effect site, a concentration (mg/L)."""

    id: str
    volume: str | None = None
    effect_of: str | None = None
    ke0: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """First-order transfer: rate constant ``rate`` (1/min) or ``clearance / V(from)``; ``to == "out"`` eliminates."""

    source: str
    target: str
    rate: str | None = None
    clearance: str | None = None


@dataclass(frozen=True, slots=True)
class RouteInput:
    """Part of a dose: ``product(fraction terms)`` of the amount enters ``to``, at once or zero-order over ``duration``.

    A fraction term is a number, a parameter name, or ``"1-NAME"``.
    """

    to: str
    fraction: tuple[str, ...] = ()
    duration: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A fixed-amount device (e.g. a 28 mg esketamine nasal device); later devices of one dose may change a parameter."""

    amount_mg: float
    interval_min: float
    later_parameter: str | None = None
    later_factor: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """How a dose by this route enters the system."""

    name: str
    inputs: tuple[RouteInput, ...]
    device: Device | None = None


@dataclass(frozen=True, slots=True)
class Analyte:
    """An observable concentration: a compartment's amount / volume, or an effect-site state."""

    id: str
    compartment: str
    description: str


@dataclass(frozen=True, slots=True)
class Model:
    """A linear compartment model with its citation, population and the status of its numbers."""

    id: str
    name: str
    version: int
    drug: str
    citation: str
    source_status: str
    population: str
    sampling: str
    covariates: tuple[str, ...]
    variability: str
    parameters: Mapping[str, Parameter]
    compartments: tuple[Compartment, ...]
    flows: tuple[Flow, ...]
    analytes: tuple[Analyte, ...]
    routes: Mapping[str, Route]
    flags: Mapping[str, str] = field(default_factory=dict)
    validation: tuple[Mapping[str, Any], ...] = ()

    @property
    def state_index(self) -> dict[str, int]:
        """Compartment id -> state position."""
        return {c.id: i for i, c in enumerate(self.compartments)}

    @property
    def default_analyte(self) -> Analyte:
        """The parent drug (first analyte)."""
        return self.analytes[0]

    def analyte(self, analyte_id: str) -> Analyte:
        """Analyte by id; KeyError if the model has no such analyte."""
        for a in self.analytes:
            if a.id == analyte_id:
                return a
        raise KeyError(analyte_id)

    @property
    def has_variability(self) -> bool:
        """True when at least one parameter has published (or placeholder) IIV."""
        return any(p.iiv is not None for p in self.parameters.values())

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (used by ``ketaclinic pk models``)."""
        return {
            "id": self.id,
            "name": self.name,
            "drug": self.drug,
            "route": sorted(self.routes),
            "analytes": [a.id for a in self.analytes],
            "default_analyte": self.default_analyte.id,
            "citation": self.citation,
            "population": self.population,
            "covariates": list(self.covariates),
            "variability": self.has_variability,
            "sampling": self.sampling,
            "status": self.source_status,
            "version": self.version,
        }


def _req(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise ModelError(f"{where}.{key}: required")
    return data[key]


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _req(data, key, where)
    if not isinstance(value, str) or not value.strip():
        raise ModelError(f"{where}.{key}: must be a non-empty string")
    return value.strip()


def _num(value: Any, where: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelError(f"{where}: must be a finite number")
    if positive and value <= 0:
        raise ModelError(f"{where}: must be > 0")
    return float(value)


def _status(value: Any, where: str) -> Status:
    if value not in STATUSES:
        raise ModelError(f"{where}: must be one of V, S, R")
    s: Status = value
    return s


def _parse_parameter(name: str, raw: Any, where: str) -> Parameter:
    if not isinstance(raw, Mapping):
        raise ModelError(f"{where}: must be a mapping")
    unit = _str(raw, "unit", where)
    if unit not in _UNITS:
        raise ModelError(f"{where}.unit: unknown unit {unit!r} (allowed: {', '.join(sorted(_UNITS))})")
    kind, factor = _UNITS[unit]
    published = _num(_req(raw, "value", where), f"{where}.value")
    if kind == "fraction" and published > 1:
        raise ModelError(f"{where}.value: a fraction must be <= 1")
    status = _status(_req(raw, "status", where), f"{where}.status")
    source = _str(raw, "source", where)
    per_kg = False
    ref_kg: float | None = None
    exponent: float | None = None
    scale = raw.get("scale")
    if unit == "L/kg":
        if scale != "per_kg":
            raise ModelError(f"{where}.scale: a L/kg parameter must have scale: per_kg")
        per_kg = True
    elif scale is not None:
        if (
            not isinstance(scale, Mapping)
            or set(scale) != {"allometric"}
            or not isinstance(scale["allometric"], Mapping)
        ):
            raise ModelError(f"{where}.scale: must be per_kg or {{allometric: {{reference_kg, exponent}}}}")
        allo = scale["allometric"]
        ref_kg = _num(
            _req(allo, "reference_kg", f"{where}.scale.allometric"), f"{where}.scale.allometric.reference_kg"
        )
        exponent = _num(
            _req(allo, "exponent", f"{where}.scale.allometric"), f"{where}.scale.allometric.exponent"
        )
    age_above: float | None = None
    age_per_year = 0.0
    if "age" in raw:
        age = raw["age"]
        if not isinstance(age, Mapping):
            raise ModelError(f"{where}.age: must be a mapping {{above_years, per_year}}")
        age_above = _num(_req(age, "above_years", f"{where}.age"), f"{where}.age.above_years")
        age_per_year = (
            _num(_req(age, "per_year", f"{where}.age"), f"{where}.age.per_year", positive=False) * factor
        )
    iiv: Iiv | None = None
    if "iiv" in raw:
        r = raw["iiv"]
        if not isinstance(r, Mapping):
            raise ModelError(f"{where}.iiv: must be a mapping")
        istatus = _status(_req(r, "status", f"{where}.iiv"), f"{where}.iiv.status")
        if "cv_percent" in r:
            cv = _num(r["cv_percent"], f"{where}.iiv.cv_percent") / 100.0
            iiv = Iiv("lognormal", math.sqrt(math.log1p(cv * cv)), istatus, cv * 100.0)
        elif "logit_sd" in r:
            if kind != "fraction":
                raise ModelError(f"{where}.iiv.logit_sd: only for fractions")
            iiv = Iiv("logit", _num(r["logit_sd"], f"{where}.iiv.logit_sd"), istatus)
        else:
            raise ModelError(f"{where}.iiv: needs cv_percent or logit_sd")
        if kind == "duration":
            raise ModelError(f"{where}.iiv: variability on a zero-order duration is not supported")
    factors: list[tuple[str, float]] = []
    if "factors" in raw:
        if not isinstance(raw["factors"], Mapping):
            raise ModelError(f"{where}.factors: must be a mapping flag -> factor")
        for flag, f in raw["factors"].items():
            factors.append((str(flag), _num(f, f"{where}.factors.{flag}")))
    return Parameter(
        name=name,
        value=published * factor,
        unit=unit,
        kind=kind,
        status=status,
        source=source,
        published_value=published,
        per_kg=per_kg,
        allometric_reference_kg=ref_kg,
        allometric_exponent=exponent,
        age_above_years=age_above,
        age_per_year=age_per_year,
        iiv=iiv,
        factors=tuple(factors),
    )


def _param_ref(params: Mapping[str, Parameter], name: Any, where: str, kinds: set[str]) -> str:
    if not isinstance(name, str) or name not in params:
        raise ModelError(f"{where}: unknown parameter {name!r}")
    if params[name].kind not in kinds:
        raise ModelError(f"{where}: parameter {name} must be a {' or '.join(sorted(kinds))}")
    return name


def _fraction_term(params: Mapping[str, Parameter], term: Any, where: str) -> str:
    if isinstance(term, int | float) and not isinstance(term, bool):
        if not 0 < term <= 1:
            raise ModelError(f"{where}: a numeric fraction must be in (0, 1]")
        return repr(float(term))
    if not isinstance(term, str):
        raise ModelError(f"{where}: must be a number, a parameter name or '1-NAME'")
    name = term[2:].strip() if term.startswith("1-") else term
    _param_ref(params, name, where, {"fraction"})
    return term


def parse_model(data: Mapping[str, Any], *, origin: str = "model") -> Model:
    """Validate a model mapping (the parsed YAML) and build a :class:`Model`; raise :class:`ModelError` naming the field."""
    if not isinstance(data, Mapping):
        raise ModelError(f"{origin}: must be a mapping")
    w = origin
    version = _req(data, "version", w)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{w}.version: must be a positive integer")
    model_id = _str(data, "id", w)
    drug = _str(data, "drug", w)
    if drug not in DRUGS:
        raise ModelError(f"{w}.drug: must be one of {', '.join(sorted(DRUGS))}")
    raw_params = _req(data, "parameters", w)
    if not isinstance(raw_params, Mapping) or not raw_params:
        raise ModelError(f"{w}.parameters: must be a non-empty mapping")
    params = {str(k): _parse_parameter(str(k), v, f"{w}.parameters.{k}") for k, v in raw_params.items()}

    raw_comps = _req(data, "compartments", w)
    if not isinstance(raw_comps, list) or not raw_comps:
        raise ModelError(f"{w}.compartments: must be a non-empty list")
    comps: list[Compartment] = []
    seen: set[str] = set()
    for i, rc in enumerate(raw_comps):
        cw = f"{w}.compartments[{i}]"
        if not isinstance(rc, Mapping):
            raise ModelError(f"{cw}: must be a mapping")
        cid = _str(rc, "id", cw)
        if cid in seen or cid == "out":
            raise ModelError(f"{cw}.id: duplicate or reserved id {cid!r}")
        seen.add(cid)
        vol = (
            _param_ref(params, rc["volume"], f"{cw}.volume", {"volume"})
            if rc.get("volume") is not None
            else None
        )
        eff = rc.get("effect_of")
        ke0 = None
        if eff is not None:
            ke0 = _param_ref(params, rc.get("ke0"), f"{cw}.ke0", {"rate"})
            if vol is not None:
                raise ModelError(f"{cw}.volume: an effect site has no volume")
        comps.append(Compartment(cid, vol, str(eff) if eff is not None else None, ke0))
    by_id = {c.id: c for c in comps}
    for i, c in enumerate(comps):
        if c.effect_of is not None and (c.effect_of not in by_id or by_id[c.effect_of].volume is None):
            raise ModelError(f"{w}.compartments[{i}].effect_of: must name a compartment with a volume")

    raw_flows = _req(data, "flows", w)
    if not isinstance(raw_flows, list) or not raw_flows:
        raise ModelError(f"{w}.flows: must be a non-empty list")
    flows: list[Flow] = []
    for i, rf in enumerate(raw_flows):
        fw = f"{w}.flows[{i}]"
        if not isinstance(rf, Mapping):
            raise ModelError(f"{fw}: must be a mapping")
        src = _str(rf, "from", fw)
        dst = _str(rf, "to", fw)
        if src not in by_id or by_id[src].effect_of is not None:
            raise ModelError(f"{fw}.from: unknown or effect-site compartment {src!r}")
        if dst != "out" and (dst not in by_id or by_id[dst].effect_of is not None):
            raise ModelError(f"{fw}.to: unknown or effect-site compartment {dst!r}")
        if src == dst:
            raise ModelError(f"{fw}.to: a flow cannot return to its source")
        if ("rate" in rf) == ("clearance" in rf):
            raise ModelError(f"{fw}: needs exactly one of rate, clearance")
        if "rate" in rf:
            flows.append(Flow(src, dst, rate=_param_ref(params, rf["rate"], f"{fw}.rate", {"rate"})))
        else:
            if by_id[src].volume is None:
                raise ModelError(f"{fw}.clearance: the source compartment has no volume")
            flows.append(
                Flow(
                    src, dst, clearance=_param_ref(params, rf["clearance"], f"{fw}.clearance", {"clearance"})
                )
            )

    raw_an = _req(data, "analytes", w)
    if not isinstance(raw_an, list) or not raw_an:
        raise ModelError(f"{w}.analytes: must be a non-empty list")
    analytes: list[Analyte] = []
    for i, ra in enumerate(raw_an):
        aw = f"{w}.analytes[{i}]"
        if not isinstance(ra, Mapping):
            raise ModelError(f"{aw}: must be a mapping")
        comp = _str(ra, "compartment", aw)
        if comp not in by_id or (by_id[comp].volume is None and by_id[comp].effect_of is None):
            raise ModelError(f"{aw}.compartment: must be a compartment with a volume or an effect site")
        analytes.append(Analyte(_str(ra, "id", aw), comp, str(ra.get("description", ""))))
    if len({a.id for a in analytes}) != len(analytes):
        raise ModelError(f"{w}.analytes: duplicate id")

    raw_routes = _req(data, "routes", w)
    if not isinstance(raw_routes, Mapping) or not raw_routes:
        raise ModelError(f"{w}.routes: must be a non-empty mapping")
    routes: dict[str, Route] = {}
    for rname, rr in raw_routes.items():
        rw = f"{w}.routes.{rname}"
        if rname not in ROUTES:
            raise ModelError(f"{rw}: unknown route (allowed: {', '.join(sorted(ROUTES))})")
        if not isinstance(rr, Mapping) or not isinstance(rr.get("inputs"), list) or not rr["inputs"]:
            raise ModelError(f"{rw}.inputs: must be a non-empty list")
        inputs: list[RouteInput] = []
        for j, ri in enumerate(rr["inputs"]):
            iw = f"{rw}.inputs[{j}]"
            if not isinstance(ri, Mapping):
                raise ModelError(f"{iw}: must be a mapping")
            to = _str(ri, "to", iw)
            if to not in by_id or by_id[to].effect_of is not None:
                raise ModelError(f"{iw}.to: unknown compartment {to!r}")
            fr = ri.get("fraction", [])
            if not isinstance(fr, list):
                raise ModelError(f"{iw}.fraction: must be a list of terms")
            terms = tuple(_fraction_term(params, t, f"{iw}.fraction[{k}]") for k, t in enumerate(fr))
            dur = (
                _param_ref(params, ri["duration"], f"{iw}.duration", {"duration"})
                if "duration" in ri
                else None
            )
            inputs.append(RouteInput(to, terms, dur))
        device = None
        if "device" in rr:
            rd = rr["device"]
            dw = f"{rw}.device"
            if not isinstance(rd, Mapping):
                raise ModelError(f"{dw}: must be a mapping")
            lp = lf = None
            if "later_devices" in rd:
                ld = rd["later_devices"]
                if not isinstance(ld, Mapping):
                    raise ModelError(f"{dw}.later_devices: must be a mapping")
                lp = _param_ref(params, ld.get("parameter"), f"{dw}.later_devices.parameter", {"fraction"})
                lf = _param_ref(params, ld.get("factor"), f"{dw}.later_devices.factor", {"fraction"})
            device = Device(
                _num(_req(rd, "amount_mg", dw), f"{dw}.amount_mg"),
                _num(_req(rd, "interval_min", dw), f"{dw}.interval_min", positive=False),
                lp,
                lf,
            )
        routes[str(rname)] = Route(str(rname), tuple(inputs), device)

    covs = data.get("covariates", [])
    flags = data.get("flags", {})
    if not isinstance(covs, list) or not isinstance(flags, Mapping):
        raise ModelError(f"{w}.covariates/flags: malformed")
    for p in params.values():
        for flag, _ in p.factors:
            if flag not in flags:
                raise ModelError(f"{w}.parameters.{p.name}.factors.{flag}: flag not declared in flags")
    validation = data.get("validation", [])
    if not isinstance(validation, list):
        raise ModelError(f"{w}.validation: must be a list")
    return Model(
        id=model_id,
        name=_str(data, "name", w),
        version=version,
        drug=drug,
        citation=_str(data, "citation", w),
        source_status=_str(data, "source_status", w),
        population=_str(data, "population", w),
        sampling=str(data.get("sampling", "not stated")),
        covariates=tuple(str(c) for c in covs),
        variability=str(data.get("variability", "")),
        parameters=params,
        compartments=tuple(comps),
        flows=tuple(flows),
        analytes=tuple(analytes),
        routes=routes,
        flags={str(k): str(v) for k, v in flags.items()},
        validation=tuple(v for v in validation if isinstance(v, Mapping)),
    )


def _model_files() -> dict[str, str]:
    folder = resources.files("ketaclinic.core.pk") / "data" / "models"
    out: dict[str, str] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            out[entry.name] = entry.read_text(encoding="utf-8")
    return out


@cache
def _all_models() -> dict[str, Model]:
    models: dict[str, Model] = {}
    for name, text in sorted(_model_files().items()):
        try:
            raw = load_yaml(text)
        except yaml.YAMLError as exc:
            raise ModelError(f"{name}: not valid YAML: {exc}") from exc
        model = parse_model(raw, origin=name)
        if model.id in models:
            raise ModelError(f"{name}.id: duplicate model id {model.id!r}")
        models[model.id] = model
    return models


def list_models() -> tuple[Model, ...]:
    """All packaged models, sorted by id (each file validated on first load)."""
    return tuple(m for _, m in sorted(_all_models().items()))


def load_model(model_id: str) -> Model:
    """The packaged model with this id; KeyError listing the known ids if there is none."""
    models = _all_models()
    if model_id not in models:
        raise KeyError(f"unknown model {model_id!r} (known: {', '.join(sorted(models))})")
    return models[model_id]
