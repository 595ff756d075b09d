"""Treatment protocols as validated, immutable data: parse a protocol mapping, load the packaged library."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from ketaclinic.core.errors import CoreValidationError
from ketaclinic.core.yamlfile import load_yaml

Drug = Literal["ketamine", "esketamine"]
Level = Literal["warn", "block"]
Evidence = Literal["V", "S", "R"]

DRUGS: tuple[Drug, ...] = ("ketamine", "esketamine")
ROUTES: tuple[str, ...] = ("iv", "im", "intranasal", "oral", "sublingual")
LEVELS: tuple[Level, ...] = ("warn", "block")
ASSESSMENT_WHATS: tuple[str, ...] = ("vitals", "bp", "moaas", "cadss")
ANCHORS: tuple[str, ...] = ("dose_start", "dose_end", "discharge")


class ProtocolError(CoreValidationError):
    """A protocol mapping is malformed; `path` names the offending field (e.g. `dose.default.value`)."""


@dataclass(frozen=True, slots=True)
class Sourced:
    """A clinical number with its citation and evidence tag ([V] verified, [S] secondary, [R] recalled)."""

    value: float
    source: str
    evidence: Evidence
    level: Level | None = None

    def cite(self) -> str:
        return f"{self.source} [{self.evidence}]"


@dataclass(frozen=True, slots=True)
class DosePolicy:
    basis: Literal["mg_per_kg", "fixed_mg"]
    default: Sourced
    warn_above: Sourced | None
    block_above: Sourced | None
    block_above_mg: Sourced | None
    first_dose_max_mg: Sourced | None
    first_dose_max_mg_age_65_plus: Sourced | None


@dataclass(frozen=True, slots=True)
class InfusionPolicy:
    """Infusion guard rails. A dose given over less than `min_infusion_min` is a bolus (the legacy key
    `bolus_max_duration_min` means "over this many minutes or less"); a bolus above
    `bolus_block_above_mg_per_kg` is blocked. Every infusion protocol also states a per-session total
    (`session_max_mg_per_kg`), a maximum duration (`max_duration_min`) and a maximum rate
    (`rate_block_above_mg_per_kg_h`): see `missing_guard_rails`."""

    default_duration_min: Sourced
    warn_below_duration_min: Sourced | None
    bolus_max_duration_min: Sourced | None
    bolus_block_above_mg_per_kg: Sourced | None
    rate_warn_above_mg_per_kg_h: Sourced | None
    rate_block_above_mg_per_kg_h: Sourced | None
    min_infusion_min: Sourced | None = None
    max_duration_min: Sourced | None = None
    session_max_mg_per_kg: Sourced | None = None

    def is_bolus(self, duration_min: float) -> bool:
        """Whether a dose given over `duration_min` minutes counts as a bolus under this protocol."""
        if self.min_infusion_min is not None:
            return duration_min < self.min_infusion_min.value - 1e-9
        if self.bolus_max_duration_min is not None:
            return duration_min <= self.bolus_max_duration_min.value + 1e-9
        return False

    @property
    def bolus_limit(self) -> Sourced | None:
        """The source defining what a bolus is (minimum infusion time, or the legacy bolus duration)."""
        return self.min_infusion_min or self.bolus_max_duration_min


#: Guard rails every infusion protocol must state (checked for the packaged library and for new clinic
#: protocols; definitions stored before they existed still load).
INFUSION_GUARD_RAILS: tuple[str, ...] = (
    "session_max_mg_per_kg",
    "max_duration_min",
    "rate_block_above_mg_per_kg_h",
)


@dataclass(frozen=True, slots=True)
class IntervalPolicy:
    warn_below_hours: Sourced | None
    block_below_hours: Sourced | None


@dataclass(frozen=True, slots=True)
class CumulativeLimit:
    """At most `max_*` within any `window_days` (doses less than window_days before the proposed one)."""

    window_days: float
    max_doses: int | None
    max_mg: float | None
    max_mg_per_kg: float | None
    level: Level
    source: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Phase:
    """Course weeks [from_week, to_week] (1-based, to_week None = open-ended) with a weekly frequency cap."""

    from_week: int
    to_week: int | None
    max_doses_per_7_days: int
    level: Level
    source: str
    evidence: Evidence

    def contains(self, week: int) -> bool:
        return week >= self.from_week and (self.to_week is None or week <= self.to_week)


@dataclass(frozen=True, slots=True)
class RequiredAssessments:
    before_each_dose: tuple[str, ...]
    during_session: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class PreDose:
    fasting_food_hours: Sourced
    fasting_liquids_hours: Sourced
    transport_home_required: bool
    pregnancy_test: Literal["never", "if_childbearing_potential", "always"]
    pregnancy_source: str
    rems_enrolment_required: bool


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    """Observe `what` every `every_min` between two anchors, or at fixed minutes after `from_`."""

    what: str
    from_: str
    to: str | None
    every_min: float | None
    at_min: tuple[float, ...]
    source: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class DischargePolicy:
    min_minutes_after_dose_end: Sourced | None
    min_minutes_after_first_dose: Sourced | None
    bp_required_at_min: Sourced | None
    bp_required_tolerance_min: float


@dataclass(frozen=True, slots=True)
class Protocol:
    """One treatment protocol; `raw` is the validated source mapping (for listing and for storage)."""

    id: str
    version: int
    name: str
    drug: Drug
    routes: tuple[str, ...]
    indication: str
    clinic_defined: bool
    device_mg: Sourced | None
    dose: DosePolicy
    infusion: InfusionPolicy | None
    interval: IntervalPolicy
    cumulative: tuple[CumulativeLimit, ...]
    phases: tuple[Phase, ...]
    course_max_weeks: Sourced | None
    required_assessments: RequiredAssessments
    pre_dose: PreDose
    monitoring: tuple[ScheduleItem, ...]
    discharge: DischargePolicy
    raw: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def weight_based(self) -> bool:
        return self.dose.basis == "mg_per_kg"

    def default_dose_mg(self, weight_kg: float) -> float:
        """The protocol's default dose for this weight, in mg (rounded to 0.1 mg)."""
        if self.weight_based:
            return round(self.dose.default.value * weight_kg, 1)
        return self.dose.default.value


# ---------------------------------------------------------------------------------------------- parsing


def _get(m: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> Any:
    if key not in m:
        if required:
            raise ProtocolError(f"{path}{key}", "is required")
        return None
    return m[key]


def _mapping(v: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ProtocolError(path, "must be a mapping")
    return v


def _number(v: Any, path: str, *, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise ProtocolError(path, "must be a number")
    if positive and float(v) <= 0:
        raise ProtocolError(path, "must be greater than 0")
    return float(v)


def _text(v: Any, path: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ProtocolError(path, "must be a non-empty string")
    return v


def _evidence(v: Any, path: str) -> Evidence:
    if v == "V" or v == "S" or v == "R":
        return v  # type: ignore[no-any-return]
    raise ProtocolError(path, "must be one of V, S, R")


def _level(v: Any, path: str) -> Level:
    if v == "warn" or v == "block":
        return v  # type: ignore[no-any-return]
    raise ProtocolError(path, "must be 'warn' or 'block'")


def _bool(v: Any, path: str) -> bool:
    if not isinstance(v, bool):
        raise ProtocolError(path, "must be true or false")
    return v


def sourced(v: Any, path: str, *, optional: bool = False, positive: bool = True) -> Sourced | None:
    """Parse `{value, source, evidence[, level]}`; None allowed only when `optional`."""
    if v is None:
        if optional:
            return None
        raise ProtocolError(path, "is required")
    m = _mapping(v, path)
    level = _level(m["level"], f"{path}.level") if "level" in m else None
    return Sourced(
        value=_number(_get(m, "value", f"{path}."), f"{path}.value", positive=positive),
        source=_text(_get(m, "source", f"{path}."), f"{path}.source"),
        evidence=_evidence(_get(m, "evidence", f"{path}."), f"{path}.evidence"),
        level=level,
    )


def _req(v: Any, path: str, *, positive: bool = True) -> Sourced:
    s = sourced(v, path, positive=positive)
    assert s is not None
    return s


def _opt(m: Mapping[str, Any], key: str, path: str) -> Sourced | None:
    return sourced(m.get(key), f"{path}{key}", optional=True)


def _str_list(v: Any, path: str) -> tuple[str, ...]:
    if not isinstance(v, Sequence) or isinstance(v, str):
        raise ProtocolError(path, "must be a list")
    return tuple(_text(x, f"{path}[{i}]") for i, x in enumerate(v))


def parse_protocol(data: Any) -> Protocol:
    """Validate a protocol mapping (packaged YAML or a clinic-defined one) and return the Protocol.

    Raises ProtocolError naming the first offending field.
    """
    m = _mapping(data, "protocol")
    version = _get(m, "version", "")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ProtocolError("version", "must be a positive integer")
    pid = _text(_get(m, "id", ""), "id")
    if not all(c.isalnum() or c in "-_." for c in pid):
        raise ProtocolError("id", "may contain only letters, digits, '-', '_' and '.'")
    drug = _get(m, "drug", "")
    if drug not in DRUGS:
        raise ProtocolError("drug", f"must be one of {', '.join(DRUGS)}")
    routes = _str_list(_get(m, "routes", ""), "routes")
    if not routes:
        raise ProtocolError("routes", "must list at least one route")
    for i, r in enumerate(routes):
        if r not in ROUTES:
            raise ProtocolError(f"routes[{i}]", f"must be one of {', '.join(ROUTES)}")

    d = _mapping(_get(m, "dose", ""), "dose")
    basis = _get(d, "basis", "dose.")
    if basis not in ("mg_per_kg", "fixed_mg"):
        raise ProtocolError("dose.basis", "must be 'mg_per_kg' or 'fixed_mg'")
    dose = DosePolicy(
        basis=basis,
        default=_req(_get(d, "default", "dose."), "dose.default"),
        warn_above=_opt(d, "warn_above", "dose."),
        block_above=_opt(d, "block_above", "dose."),
        block_above_mg=_opt(d, "block_above_mg", "dose."),
        first_dose_max_mg=_opt(d, "first_dose_max_mg", "dose."),
        first_dose_max_mg_age_65_plus=_opt(d, "first_dose_max_mg_age_65_plus", "dose."),
    )
    if dose.warn_above and dose.block_above and dose.warn_above.value > dose.block_above.value:
        raise ProtocolError("dose.warn_above.value", "must not exceed dose.block_above.value")
    if dose.block_above and dose.default.value > dose.block_above.value:
        raise ProtocolError("dose.default.value", "must not exceed dose.block_above.value")

    infusion: InfusionPolicy | None = None
    if m.get("infusion") is not None:
        inf = _mapping(m["infusion"], "infusion")
        infusion = InfusionPolicy(
            default_duration_min=_req(
                _get(inf, "default_duration_min", "infusion."), "infusion.default_duration_min"
            ),
            warn_below_duration_min=_opt(inf, "warn_below_duration_min", "infusion."),
            bolus_max_duration_min=_opt(inf, "bolus_max_duration_min", "infusion."),
            bolus_block_above_mg_per_kg=_opt(inf, "bolus_block_above_mg_per_kg", "infusion."),
            rate_warn_above_mg_per_kg_h=_opt(inf, "rate_warn_above_mg_per_kg_h", "infusion."),
            rate_block_above_mg_per_kg_h=_opt(inf, "rate_block_above_mg_per_kg_h", "infusion."),
            min_infusion_min=_opt(inf, "min_infusion_min", "infusion."),
            max_duration_min=_opt(inf, "max_duration_min", "infusion."),
            session_max_mg_per_kg=_opt(inf, "session_max_mg_per_kg", "infusion."),
        )
        _check_infusion(infusion, dose, basis)

    iv = _mapping(_get(m, "interval", ""), "interval")
    interval = IntervalPolicy(
        warn_below_hours=_opt(iv, "warn_below_hours", "interval."),
        block_below_hours=_opt(iv, "block_below_hours", "interval."),
    )

    cumulative: list[CumulativeLimit] = []
    for i, c in enumerate(m.get("cumulative") or []):
        p = f"cumulative[{i}]"
        cm = _mapping(c, p)
        maxes = {k: cm.get(k) for k in ("max_doses", "max_mg", "max_mg_per_kg") if cm.get(k) is not None}
        if len(maxes) != 1:
            raise ProtocolError(p, "needs exactly one of max_doses, max_mg, max_mg_per_kg")
        max_doses = cm.get("max_doses")
        if max_doses is not None and (
            isinstance(max_doses, bool) or not isinstance(max_doses, int) or max_doses < 1
        ):
            raise ProtocolError(f"{p}.max_doses", "must be a positive integer")
        cumulative.append(
            CumulativeLimit(
                window_days=_number(_get(cm, "window_days", f"{p}."), f"{p}.window_days"),
                max_doses=max_doses,
                max_mg=_number(cm["max_mg"], f"{p}.max_mg") if cm.get("max_mg") is not None else None,
                max_mg_per_kg=(
                    _number(cm["max_mg_per_kg"], f"{p}.max_mg_per_kg")
                    if cm.get("max_mg_per_kg") is not None
                    else None
                ),
                level=_level(_get(cm, "level", f"{p}."), f"{p}.level"),
                source=_text(_get(cm, "source", f"{p}."), f"{p}.source"),
                evidence=_evidence(_get(cm, "evidence", f"{p}."), f"{p}.evidence"),
            )
        )
        if cumulative[-1].max_mg_per_kg is not None and basis != "mg_per_kg":
            raise ProtocolError(f"{p}.max_mg_per_kg", "needs a weight-based (mg_per_kg) protocol")

    phases: list[Phase] = []
    for i, ph in enumerate(m.get("phases") or []):
        p = f"phases[{i}]"
        pm = _mapping(ph, p)
        fw, tw, mx = pm.get("from_week"), pm.get("to_week"), pm.get("max_doses_per_7_days")
        if isinstance(fw, bool) or not isinstance(fw, int) or fw < 1:
            raise ProtocolError(f"{p}.from_week", "must be a positive integer")
        if tw is not None and (isinstance(tw, bool) or not isinstance(tw, int) or tw < fw):
            raise ProtocolError(f"{p}.to_week", "must be an integer ≥ from_week, or null")
        if isinstance(mx, bool) or not isinstance(mx, int) or mx < 1:
            raise ProtocolError(f"{p}.max_doses_per_7_days", "must be a positive integer")
        phases.append(
            Phase(
                from_week=fw,
                to_week=tw,
                max_doses_per_7_days=mx,
                level=_level(_get(pm, "level", f"{p}."), f"{p}.level"),
                source=_text(_get(pm, "source", f"{p}."), f"{p}.source"),
                evidence=_evidence(_get(pm, "evidence", f"{p}."), f"{p}.evidence"),
            )
        )

    ra = _mapping(_get(m, "required_assessments", ""), "required_assessments")
    required = RequiredAssessments(
        before_each_dose=_str_list(ra.get("before_each_dose") or [], "required_assessments.before_each_dose"),
        during_session=_str_list(ra.get("during_session") or [], "required_assessments.during_session"),
        source=_text(_get(ra, "source", "required_assessments."), "required_assessments.source"),
    )

    pd = _mapping(_get(m, "pre_dose", ""), "pre_dose")
    preg = pd.get("pregnancy_test", "if_childbearing_potential")
    if preg not in ("never", "if_childbearing_potential", "always"):
        raise ProtocolError("pre_dose.pregnancy_test", "must be never, if_childbearing_potential or always")
    pre_dose = PreDose(
        fasting_food_hours=_req(
            _get(pd, "fasting_food_hours", "pre_dose."), "pre_dose.fasting_food_hours", positive=False
        ),
        fasting_liquids_hours=_req(
            _get(pd, "fasting_liquids_hours", "pre_dose."), "pre_dose.fasting_liquids_hours", positive=False
        ),
        transport_home_required=_bool(
            _get(pd, "transport_home_required", "pre_dose."), "pre_dose.transport_home_required"
        ),
        pregnancy_test=preg,
        pregnancy_source=str(pd.get("pregnancy_source") or ""),
        rems_enrolment_required=_bool(
            _get(pd, "rems_enrolment_required", "pre_dose."), "pre_dose.rems_enrolment_required"
        ),
    )
    if pre_dose.rems_enrolment_required and drug != "esketamine":
        raise ProtocolError("pre_dose.rems_enrolment_required", "applies only to esketamine")

    monitoring: list[ScheduleItem] = []
    for i, it in enumerate(m.get("monitoring") or []):
        p = f"monitoring[{i}]"
        im = _mapping(it, p)
        what = _get(im, "what", f"{p}.")
        if what not in ASSESSMENT_WHATS:
            raise ProtocolError(f"{p}.what", f"must be one of {', '.join(ASSESSMENT_WHATS)}")
        frm = im.get("from", "dose_start")
        to = im.get("to")
        if frm not in ANCHORS or (to is not None and to not in ANCHORS):
            raise ProtocolError(f"{p}.from", f"anchors must be one of {', '.join(ANCHORS)}")
        every = _number(im["every_min"], f"{p}.every_min") if im.get("every_min") is not None else None
        at = tuple(
            _number(x, f"{p}.at_min[{j}]", positive=False) for j, x in enumerate(im.get("at_min") or [])
        )
        if (every is None) == (not at):
            raise ProtocolError(p, "needs exactly one of every_min or at_min")
        if every is not None and to is None:
            raise ProtocolError(f"{p}.to", "is required with every_min")
        monitoring.append(
            ScheduleItem(
                what=what,
                from_=frm,
                to=to,
                every_min=every,
                at_min=at,
                source=_text(_get(im, "source", f"{p}."), f"{p}.source"),
                evidence=_evidence(_get(im, "evidence", f"{p}."), f"{p}.evidence"),
            )
        )

    dm = _mapping(_get(m, "discharge", ""), "discharge")
    bp_at = dm.get("bp_required_at_min")
    discharge = DischargePolicy(
        min_minutes_after_dose_end=_opt(dm, "min_minutes_after_dose_end", "discharge."),
        min_minutes_after_first_dose=_opt(dm, "min_minutes_after_first_dose", "discharge."),
        bp_required_at_min=_opt(dm, "bp_required_at_min", "discharge."),
        bp_required_tolerance_min=(
            _number(
                bp_at.get("tolerance_min", 5), "discharge.bp_required_at_min.tolerance_min", positive=False
            )
            if isinstance(bp_at, Mapping)
            else 5.0
        ),
    )

    device = _opt(m, "device_mg", "")
    if device is not None:
        if basis != "fixed_mg":
            raise ProtocolError("device_mg", "needs a fixed_mg protocol")
        for name, s in (("default", dose.default), ("block_above", dose.block_above)):
            if s is not None and not _is_multiple(s.value, device.value):
                raise ProtocolError(
                    f"dose.{name}.value", f"must be a multiple of device_mg ({device.value:g} mg)"
                )

    cmw = m.get("course_max_weeks")
    course_max_weeks = sourced(cmw, "course_max_weeks", optional=True)
    if course_max_weeks is not None and course_max_weeks.level is None:
        raise ProtocolError("course_max_weeks.level", "is required")

    return Protocol(
        id=pid,
        version=version,
        name=_text(_get(m, "name", ""), "name"),
        drug=drug,
        routes=routes,
        indication=_text(_get(m, "indication", ""), "indication"),
        clinic_defined=bool(m.get("clinic_defined", False)),
        device_mg=device,
        dose=dose,
        infusion=infusion,
        interval=interval,
        cumulative=tuple(cumulative),
        phases=tuple(phases),
        course_max_weeks=course_max_weeks,
        required_assessments=required,
        pre_dose=pre_dose,
        monitoring=tuple(monitoring),
        discharge=discharge,
        raw=m,
    )


def _check_infusion(inf: InfusionPolicy, dose: DosePolicy, basis: str) -> None:
    if inf.min_infusion_min is not None and inf.bolus_max_duration_min is not None:
        raise ProtocolError(
            "infusion.bolus_max_duration_min",
            "give either min_infusion_min or bolus_max_duration_min, not both",
        )
    if inf.bolus_block_above_mg_per_kg is not None and inf.bolus_limit is None:
        raise ProtocolError("infusion.min_infusion_min", "is required with bolus_block_above_mg_per_kg")
    if basis != "mg_per_kg":
        for key in ("bolus_block_above_mg_per_kg", "session_max_mg_per_kg"):
            if getattr(inf, key) is not None:
                raise ProtocolError(f"infusion.{key}", "needs a weight-based (mg_per_kg) protocol")
        for key in ("rate_warn_above_mg_per_kg_h", "rate_block_above_mg_per_kg_h"):
            if getattr(inf, key) is not None:
                raise ProtocolError(f"infusion.{key}", "needs a weight-based (mg_per_kg) protocol")
    if inf.max_duration_min is not None and inf.default_duration_min.value > inf.max_duration_min.value:
        raise ProtocolError(
            "infusion.default_duration_min.value", "must not exceed infusion.max_duration_min.value"
        )
    if inf.session_max_mg_per_kg is not None and dose.default.value > inf.session_max_mg_per_kg.value:
        raise ProtocolError("dose.default.value", "must not exceed infusion.session_max_mg_per_kg.value")
    warn, block = inf.rate_warn_above_mg_per_kg_h, inf.rate_block_above_mg_per_kg_h
    if warn is not None and block is not None and warn.value > block.value:
        raise ProtocolError(
            "infusion.rate_warn_above_mg_per_kg_h.value", "must not exceed rate_block_above_mg_per_kg_h.value"
        )


def missing_guard_rails(protocol: Protocol) -> tuple[str, ...]:
    """The infusion guard rails (`INFUSION_GUARD_RAILS`) a weight-based infusion protocol does not state."""
    inf = protocol.infusion
    if inf is None or not protocol.weight_based:
        return ()
    return tuple(f"infusion.{k}" for k in INFUSION_GUARD_RAILS if getattr(inf, k) is None)


def _is_multiple(value: float, unit: float) -> bool:
    q = value / unit
    return abs(q - round(q)) < 1e-9


# ---------------------------------------------------------------------------------------------- loading


def _data_text(*parts: str) -> str:
    return resources.files("ketaclinic.core.protocols").joinpath("data", *parts).read_text(encoding="utf-8")


@cache
def load_protocols() -> tuple[Protocol, ...]:
    """Every packaged protocol, sorted by id (cached). Fails loudly on a malformed file."""
    folder = resources.files("ketaclinic.core.protocols").joinpath("data", "protocols")
    out: list[Protocol] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        try:
            proto = parse_protocol(load_yaml(entry.read_text(encoding="utf-8")))
        except ProtocolError as exc:
            raise ProtocolError(f"{entry.name}:{exc.path}", exc.reason) from exc
        if f"{proto.id}.yaml" != entry.name:
            raise ProtocolError(f"{entry.name}:id", f"must match the file name (got {proto.id!r})")
        out.append(proto)
    return tuple(sorted(out, key=lambda p: p.id))


def protocol_ids() -> tuple[str, ...]:
    return tuple(p.id for p in load_protocols())


def get_protocol(protocol_id: str) -> Protocol:
    """The packaged protocol with this id; KeyError if unknown."""
    for p in load_protocols():
        if p.id == protocol_id:
            return p
    raise KeyError(protocol_id)
