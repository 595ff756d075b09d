"""The intake Bundle parser: Bundle-level checks, then one reader per resource type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ketaclinic.core.fhir.intake.facts import (
    _TOLERATED_REQUIRED,
    USABLE_OBSERVATION_STATUSES,
    AllergyFact,
    BloodPressureReading,
    BundleError,
    ConditionFact,
    Intake,
    IntakeProblem,
    MedicationFact,
    PatientFact,
    PregnancyStatusReading,
    ProblemKind,
    WeightReading,
)
from ketaclinic.core.fhir.intake.fields import (
    _codings,
    _effective,
    _has_loinc,
    _mmhg,
    _names,
    _ref_of,
    _status_code,
    _weight_kg,
    parse_partial_date,
)
from ketaclinic.core.fhir.validate import validate_resource
from ketaclinic.core.terminology import (
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    icd10cm_normalize,
    load_terminology,
)


@dataclass
class _Ctx:
    problems: list[IntakeProblem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def problem(self, ref: str, path: str, message: str, kind: str) -> None:
        self.problems.append(IntakeProblem(ref, path, message, kind))


def parse_bundle(bundle: object) -> Intake:
    """Parse an intake Bundle; raise BundleError (every fatal issue) or return the Intake with its problems."""
    if not isinstance(bundle, dict):
        raise BundleError(
            [IntakeProblem("Bundle", "$", "the document must be a JSON object (a FHIR Bundle)")]
        )
    if bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType")
        raise BundleError([IntakeProblem("Bundle", "resourceType", f"must be 'Bundle', got {got!r}")])
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise BundleError([IntakeProblem("Bundle", "Bundle.entry", "must be a list of entries")])

    fatal: list[IntakeProblem] = []
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    shell.setdefault("type", "collection")
    fatal.extend(IntakeProblem("Bundle", i.path, i.message) for i in validate_resource(shell))

    items: list[tuple[int, str, dict[str, Any], str | None]] = []  # (index, ref, resource, fullUrl)
    for idx, entry in enumerate(entries):
        where = f"Bundle.entry[{idx}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            fatal.append(
                IntakeProblem(where, f"{where}.resource", "missing: every entry must carry a resource")
            )
            continue
        res: dict[str, Any] = entry["resource"]
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        ref = _ref_of(res, full_url, idx)
        for issue in validate_resource(res):
            rtype = str(res.get("resourceType"))
            tail = issue.path.split(".")[1] if "." in issue.path else ""
            if (
                issue.message == "Field required"
                and (rtype, tail) in _TOLERATED_REQUIRED
                and issue.path.count(".") == 1
            ):
                continue
            fatal.append(IntakeProblem(ref, issue.path, issue.message))
        items.append((idx, ref, res, full_url))

    patients = [(i, r, res, u) for (i, r, res, u) in items if res.get("resourceType") == "Patient"]
    if not patients:
        fatal.append(
            IntakeProblem(
                "Bundle", "Bundle.entry", "no Patient resource: the intake bundle needs exactly one"
            )
        )
    elif len(patients) > 1:
        refs = ", ".join(r for _, r, _, _ in patients)
        fatal.append(
            IntakeProblem(
                "Bundle",
                "Bundle.entry",
                f"{len(patients)} Patient resources ({refs}): exactly one is required",
            )
        )
    if fatal:
        raise BundleError(fatal)

    _, patient_ref, patient_res, patient_url = patients[0]
    patient_aliases = {patient_ref}
    if patient_url:
        patient_aliases.add(patient_url)
    subject_field = {
        "Condition": "subject",
        "Observation": "subject",
        "MedicationStatement": "subject",
        "AllergyIntolerance": "patient",
    }
    for _, ref, res, _ in items:
        rtype = str(res.get("resourceType"))
        fld = subject_field.get(rtype)
        target = res.get(fld) if fld else None
        if (
            isinstance(target, dict)
            and isinstance(target.get("reference"), str)
            and target["reference"] not in patient_aliases
        ):
            fatal.append(
                IntakeProblem(
                    ref,
                    f"{rtype}.{fld}.reference",
                    f"{target['reference']!r} is not the bundle's Patient ({patient_ref})",
                )
            )
    if fatal:
        raise BundleError(fatal)

    ctx = _Ctx()
    by_ref: dict[str, dict[str, Any]] = {}
    for _, ref, res, url in items:
        by_ref[ref] = res
        if url:
            by_ref[url] = res

    birth = patient_res.get("birthDate")
    birth_date = parse_partial_date(birth) if birth is not None else None
    if birth_date is None:
        ctx.problem(
            patient_ref, "Patient.birthDate", "missing: age cannot be checked", ProblemKind.BIRTH_DATE
        )
    patient = PatientFact(patient_ref, birth_date)

    conditions: list[ConditionFact] = []
    allergies: list[AllergyFact] = []
    medications: list[MedicationFact] = []
    observations: list[tuple[str, dict[str, Any]]] = []
    for _, ref, res, _ in items:
        kind = res.get("resourceType")
        if kind == "Condition":
            c = _condition(ref, res, ctx)
            if c is not None:
                conditions.append(c)
        elif kind == "AllergyIntolerance":
            a = _allergy(ref, res, ctx)
            if a is not None:
                allergies.append(a)
        elif kind == "MedicationStatement":
            m = _medication(ref, res, ctx, by_ref)
            if m is not None:
                medications.append(m)
        elif kind == "Observation":
            observations.append((ref, res))
        elif kind != "Patient":
            ctx.ignored.append(ref)

    bps, weights, preg = _observations(observations, ctx)
    return Intake(
        patient=patient,
        conditions=tuple(conditions),
        allergies=tuple(allergies),
        medications=tuple(medications),
        blood_pressures=bps,
        weights=weights,
        pregnancy_statuses=preg,
        problems=tuple(ctx.problems),
        ignored=tuple(ctx.ignored),
    )


def _condition(ref: str, res: dict[str, Any], ctx: _Ctx) -> ConditionFact | None:
    verification = _status_code(res.get("verificationStatus"))
    if verification in ("entered-in-error", "refuted"):
        ctx.ignored.append(ref)
        return None
    code = res.get("code")
    icd: list[str] = []
    sct: list[str] = []
    reasons: list[tuple[str, str]] = []
    if not isinstance(code, dict):
        ctx.problem(
            ref,
            "Condition.code",
            "missing: the condition cannot be screened without a code",
            ProblemKind.CODE,
        )
        return None
    for i, coding in enumerate(_codings(code)):
        system, value = coding.get("system"), coding.get("code")
        path = f"Condition.code.coding[{i}]"
        if not isinstance(value, str) or not value.strip():
            reasons.append((f"{path}.code", "missing"))
        elif system == ICD10CM:
            norm = icd10cm_normalize(value)
            if norm is None:
                reasons.append((f"{path}.code", f"{value!r} is not an ICD-10-CM code"))
            else:
                icd.append(norm)
        elif system == SNOMED:
            sct.append(value.strip())
        else:
            reasons.append(
                (
                    f"{path}.system",
                    f"{system!r} is not a supported code system (ICD-10-CM {ICD10CM}, SNOMED CT {SNOMED})",
                )
            )
    if not icd and not sct:
        if not reasons:
            reasons.append(("Condition.code.coding", "no coding: text alone cannot be screened"))
        for path, why in reasons:
            ctx.problem(ref, path, why, ProblemKind.CODE)
        return None
    abatement = None
    for key in ("abatementDateTime",):
        if key in res:
            abatement = parse_partial_date(res[key])
    if abatement is None and isinstance(res.get("abatementPeriod"), dict):
        p = res["abatementPeriod"]
        abatement = parse_partial_date(p.get("end") or p.get("start"))
    abated = any(k.startswith("abatement") for k in res) and res.get("abatementBoolean") is not False
    onset = parse_partial_date(res.get("onsetDateTime"))
    if onset is None and isinstance(res.get("onsetPeriod"), dict):
        onset = parse_partial_date(res["onsetPeriod"].get("start"))
    return ConditionFact(
        ref=ref,
        icd10cm=tuple(icd),
        snomed=tuple(sct),
        text=" / ".join(_names(code)),
        clinical_status=_status_code(res.get("clinicalStatus")),
        verification_status=verification,
        onset=onset,
        abatement=abatement,
        abated=abated,
    )


def _allergy(ref: str, res: dict[str, Any], ctx: _Ctx) -> AllergyFact | None:
    verification = _status_code(res.get("verificationStatus"))
    if verification in ("entered-in-error", "refuted"):
        ctx.ignored.append(ref)
        return None
    codes: list[tuple[str, str]] = []
    names: list[str] = []
    ccs: list[object] = [res.get("code")]
    for reaction in res.get("reaction") or []:
        if isinstance(reaction, dict):
            ccs.append(reaction.get("substance"))
    for cc in ccs:
        for c in _codings(cc):
            if isinstance(c.get("system"), str) and isinstance(c.get("code"), str):
                codes.append((str(c["system"]), str(c["code"]).strip()))
        names.extend(_names(cc))
    if not codes and not names:
        ctx.problem(ref, "AllergyIntolerance.code", "missing: the substance is not stated", ProblemKind.CODE)
        return None
    return AllergyFact(ref, tuple(codes), tuple(names), _status_code(res.get("clinicalStatus")), verification)


def _medication(
    ref: str, res: dict[str, Any], ctx: _Ctx, by_ref: dict[str, dict[str, Any]]
) -> MedicationFact | None:
    status = str(res.get("status", "unknown"))
    if status == "entered-in-error":
        ctx.ignored.append(ref)
        return None
    ccs: list[object] = []
    names: list[str] = []
    if isinstance(res.get("medicationCodeableConcept"), dict):
        ccs.append(res["medicationCodeableConcept"])
    elif isinstance(res.get("medicationReference"), dict):
        mref = res["medicationReference"]
        target_ref = mref.get("reference")
        target: dict[str, Any] | None = None
        if isinstance(target_ref, str) and target_ref.startswith("#"):
            for contained in res.get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == target_ref[1:]:
                    target = contained
        elif isinstance(target_ref, str):
            target = by_ref.get(target_ref)
        if target is not None:
            ccs.append(target.get("code"))
            for ing in target.get("ingredient") or []:
                if isinstance(ing, dict):
                    ccs.append(ing.get("itemCodeableConcept"))
                    item_ref = ing.get("itemReference")
                    if isinstance(item_ref, dict) and isinstance(item_ref.get("display"), str):
                        names.append(item_ref["display"])
        if isinstance(mref.get("display"), str):
            names.append(mref["display"])
        if target is None and not names:
            ctx.problem(
                ref,
                "MedicationStatement.medicationReference.reference",
                f"{target_ref!r} cannot be resolved in the bundle or contained resources",
                ProblemKind.CODE,
            )
            return None
    rx: list[str] = []
    for cc in ccs:
        rx.extend(
            str(c["code"]).strip()
            for c in _codings(cc)
            if c.get("system") == RXNORM and isinstance(c.get("code"), str)
        )
        names.extend(_names(cc))
    if not rx and not names:
        ctx.problem(
            ref,
            "MedicationStatement.medication[x]",
            "no RxNorm code and no name: the medication cannot be screened",
            ProblemKind.CODE,
        )
        return None
    start = end = None
    if "effectiveDateTime" in res:
        start = parse_partial_date(res["effectiveDateTime"])
    elif isinstance(res.get("effectivePeriod"), dict):
        start = parse_partial_date(res["effectivePeriod"].get("start"))
        end = parse_partial_date(res["effectivePeriod"].get("end"))
    return MedicationFact(ref, tuple(rx), tuple(names), status, start, end)


def _observations(
    observations: list[tuple[str, dict[str, Any]]], ctx: _Ctx
) -> tuple[tuple[BloodPressureReading, ...], tuple[WeightReading, ...], tuple[PregnancyStatusReading, ...]]:
    loinc = load_terminology().loinc
    terms = load_terminology()
    panels, sys_codes, dia_codes = loinc["blood_pressure_panel"], loinc["systolic"], loinc["diastolic"]
    bps: list[BloodPressureReading] = []
    standalone: dict[datetime, dict[str, Any]] = {}
    weights: list[WeightReading] = []
    preg: list[PregnancyStatusReading] = []
    for ref, res in observations:
        code = res.get("code")
        is_panel = _has_loinc(code, panels)
        is_sys, is_dia = _has_loinc(code, sys_codes), _has_loinc(code, dia_codes)
        is_weight = _has_loinc(code, loinc["body_weight"])
        is_preg = _has_loinc(code, loinc["pregnancy_status"])
        if not (is_panel or is_sys or is_dia or is_weight or is_preg):
            ctx.ignored.append(ref)
            continue
        if res.get("status") not in USABLE_OBSERVATION_STATUSES:
            ctx.ignored.append(ref)
            continue
        kind = (
            ProblemKind.BLOOD_PRESSURE
            if (is_panel or is_sys or is_dia)
            else (ProblemKind.WEIGHT if is_weight else ProblemKind.PREGNANCY)
        )
        when, when_path = _effective(res)
        if when is None:
            ctx.problem(
                ref, f"Observation.{when_path}", "missing or unreadable: the observation has no date", kind
            )
            continue
        if not when.is_day_precise:
            ctx.problem(ref, f"Observation.{when_path}", f"{when.text!r} is not precise to the day", kind)
            continue
        absent = res.get("dataAbsentReason")
        if is_panel:
            values: dict[str, float | None] = {"systolic": None, "diastolic": None}
            found = False
            for i, comp in enumerate(res.get("component") or []):
                if not isinstance(comp, dict):
                    continue
                for name, codes in (("systolic", sys_codes), ("diastolic", dia_codes)):
                    if _has_loinc(comp.get("code"), codes):
                        found = True
                        v, why = _mmhg(comp.get("valueQuantity"), f"Observation.component[{i}].valueQuantity")
                        if why is not None:
                            ctx.problem(ref, why.split(": ", 1)[0], why.split(": ", 1)[1], kind)
                        values[name] = v
            if not found:
                ctx.problem(
                    ref, "Observation.component", "no systolic (8480-6) or diastolic (8462-4) component", kind
                )
            if values["systolic"] is not None or values["diastolic"] is not None:
                bps.append(BloodPressureReading((ref,), when, values["systolic"], values["diastolic"]))
        elif is_sys or is_dia:
            if absent is not None:
                ctx.problem(ref, "Observation.dataAbsentReason", "value absent", kind)
                continue
            v, why = _mmhg(res.get("valueQuantity"), "Observation.valueQuantity")
            if why is not None:
                ctx.problem(ref, why.split(": ", 1)[0], why.split(": ", 1)[1], kind)
                continue
            slot = standalone.setdefault(
                when.instant, {"refs": [], "when": when, "systolic": None, "diastolic": None}
            )
            slot["refs"].append(ref)
            slot["systolic" if is_sys else "diastolic"] = v
        elif is_weight:
            if absent is not None:
                ctx.problem(ref, "Observation.dataAbsentReason", "value absent", kind)
                continue
            kg, why = _weight_kg(res.get("valueQuantity"), "Observation.valueQuantity")
            if kg is None:
                assert why is not None
                ctx.problem(ref, why.split(": ", 1)[0], why.split(": ", 1)[1], kind)
                continue
            weights.append(WeightReading(ref, when, kg))
        else:
            cc = res.get("valueCodeableConcept")
            if not isinstance(cc, dict) or not _codings(cc):
                ctx.problem(
                    ref,
                    "Observation.valueCodeableConcept",
                    "missing: pregnancy status needs a coded answer",
                    kind,
                )
                continue
            pregnant = any(
                (c.get("system") == SNOMED and c.get("code") in terms.snomed["pregnant_answer"].concepts)
                or (c.get("system") == LOINC and c.get("code") in loinc["pregnant_answer"])
                for c in _codings(cc)
            )
            preg.append(PregnancyStatusReading(ref, when, pregnant))
    for slot in standalone.values():
        bps.append(
            BloodPressureReading(tuple(slot["refs"]), slot["when"], slot["systolic"], slot["diastolic"])
        )
    bps.sort(key=lambda b: b.when.instant)
    weights.sort(key=lambda w: w.when.instant)
    preg.sort(key=lambda p: p.when.instant)
    return tuple(bps), tuple(weights), tuple(preg)
