"""Treatment demo data: controlled-substance stock, consent, courses and completed sessions, all made through the
real actions.

Every record is written by the same audited actions the clinic uses (ledger product/supplier/location/receipt by the
custodian, consent, course, signed order under the dose guard, the session state machine with the ledger
withdrawal, administration and witnessed waste). Past sessions run on a simulated clock (`django.utils.timezone.now`
set to the moment each step happened) so their timestamps, dose-guard history, discharge checks, ledger entries and
REMS deadlines are consistent; the demo clinic is synthetic (never real people).

- Stock: the custodian receives ketamine 50 mg/mL vials at both sites and esketamine devices at the REMS-certified
  site 70 days ago (before any session), so every dose is drawn from the ledger.
- Five patients the screening demo cleared (`ctx.extra["cleared_patients"]`, oldest screening first; course started
  after their screening): three IV racemic ketamine, two esketamine, plus today's sessions for the board.
- Six patients with 8 weeks of PHQ-9/MADRS/GAD-7 from the assessments demo (`ctx.extra["assessment_history"]`) get
  an IV induction course whose first dose falls one day after their baseline scores, so their trends show dose
  days, response, remission and the time to first response.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from unittest import mock

from django.utils import timezone

from ketaclinic.web.treatment import actions as A
from ketaclinic.web.treatment import stock
from ketaclinic.web.treatment.models import RemsMonitoringForm

if TYPE_CHECKING:
    from ketaclinic.web.accounts.models import User
    from ketaclinic.web.demo import DemoContext
    from ketaclinic.web.patients.models import Patient

STOCK_DAYS_AGO = 70  # before the assessments demo's 8-week histories (and every session)
# Demo products (NDC-format codes of real presentations; the demo clinic is synthetic) and what each site receives.
DEMO_PRODUCTS = {
    "ketamine": {
        "code": "42023-115-10",
        "name": "Ketamine hydrochloride injection",
        "form": "injection solution",
        "strength_mg_per_unit": "50",
        "unit": "mL",
        "container_size": "10",
        "container_label": "vial",
        "lot": "KET-DEMO-24A",
        "per_site": "600",
    },
    "esketamine": {
        "code": "50458-028-02",
        "name": "Spravato (esketamine) nasal spray",
        "form": "nasal spray",
        "strength_mg_per_unit": "28",
        "unit": "device",
        "container_size": "2",
        "container_label": "kit",
        "lot": "SPR-DEMO-7731",
        "per_site": "60",
    },
}


@contextlib.contextmanager
def _clock(at: dt.datetime) -> Iterator[None]:
    """Run the enclosed actions as if it were `at`."""
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def _eligible(ctx: DemoContext, *, rems_site: bool, count: int, skip: set[int]) -> list[Any]:
    from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert

    out = []
    for p in ctx.patients:
        if p.pk in skip or p.latest_weight() is None or has_unacknowledged_suicide_alert(p):
            continue
        if rems_site and not (p.home_site and p.home_site.rems_certified):
            continue
        out.append(p)
        if len(out) == count:
            break
    return out


def clear_screening(
    patient: Patient, prescriber: User, route: str, at: dt.datetime, cosigner: Any = None
) -> None:
    """Record the intake the rules need, screen, and clear every finding that needs a prescriber's decision
    (an absolute-finding override is co-signed by `cosigner`)."""
    from ketaclinic.web.screening import actions as screening

    with _clock(at):
        weight = patient.latest_weight()
        if weight is None:
            raise ValueError(f"demo patient {patient.pk} has no weight")
        screening.do_record_blood_pressure(
            actor=prescriber, patient_id=patient.pk, systolic=118, diastolic=76, measured_at=at
        )
        screening.do_record_intake_weight(
            actor=prescriber, patient_id=patient.pk, weight_kg=weight.weight_kg, measured_at=at
        )
        run = screening.do_run_screening(actor=prescriber, patient_id=patient.pk, route=route)
        for f in run.findings:
            if f["level"] == "caution":
                continue
            review = screening.do_review_finding(
                actor=prescriber,
                patient_id=patient.pk,
                run_id=run.pk,
                finding_code=str(f["code"]),
                reason="Reviewed with the patient at intake; acceptable for supervised treatment.",
            )
            if f["level"] == "absolute" and cosigner is not None:
                screening.do_cosign_override(actor=cosigner, patient_id=patient.pk, review_id=review.pk)


def consent_and_course(
    patient: Patient, prescriber: User, protocol_id: str, product: str, at: dt.datetime
) -> Any:
    from ketaclinic.web.screening.actions import do_record_consent

    esk = protocol_id.startswith("esketamine")
    with _clock(at):
        do_record_consent(
            actor=prescriber,
            patient_id=patient.pk,
            indication="trd",
            product=product,
            patient_acknowledged_off_label=not esk,
        )
        return A.do_start_course(
            actor=prescriber,
            patient_id=patient.pk,
            protocol_id=protocol_id,
            indication="trd",
            rems_patient_enrolled=esk,
            rems_patient_id=f"REMS-P-{patient.pk:05d}" if esk else "",
        )


def receive_demo_stock(ctx: DemoContext) -> None:
    """The custodian sets up the products, a registered supplier and a controlled-drug safe per site, and
    receives stock (esketamine only at REMS-certified sites), through the ledger actions."""
    from ketaclinic.web.ledger import actions as L

    custodian = ctx.staff["custodian.garcia"]
    at = ctx.now - dt.timedelta(days=STOCK_DAYS_AGO)
    with _clock(at):
        supplier = L.do_create_supplier(
            actor=custodian,
            clinic=ctx.clinic,
            name="Demo Pharma Distribution",
            address="200 Supply Ave, Sacramento CA 95814",
            registration_number="RD0000001",
            registration_expires_on=(ctx.now + dt.timedelta(days=400)).date(),
        )
        products = {
            drug: L.do_create_product(
                actor=custodian,
                clinic=ctx.clinic,
                code_system="ndc",
                code=spec["code"],
                drug=drug,
                name=spec["name"],
                form=spec["form"],
                strength_mg_per_unit=spec["strength_mg_per_unit"],
                unit=spec["unit"],
                container_size=spec["container_size"],
                container_label=spec["container_label"],
            )
            for drug, spec in DEMO_PRODUCTS.items()
        }
        for n, site in enumerate(ctx.sites):
            safe = L.do_create_location(actor=custodian, site=site, name="CD safe")
            for drug, spec in DEMO_PRODUCTS.items():
                if drug == "esketamine" and not site.rems_certified:
                    continue
                L.do_receive_stock(
                    actor=custodian,
                    location=safe,
                    product=products[drug],
                    supplier=supplier,
                    lot_number=spec["lot"],
                    lot_expires_on=(ctx.now + dt.timedelta(days=400)).date(),
                    quantity=spec["per_site"],
                    invoice=f"INV-DEMO-{n + 1:03d}-{drug[:3].upper()}",
                    occurred_at=at,
                )


def _withdraw(nurse: User, s: Any, at: dt.datetime) -> Any:
    """Withdraw the ordered dose (whole vials / devices) from the soonest-expiring in-date lot at the site."""
    s.refresh_from_db()
    option = stock.withdraw_options(s)[0]
    with _clock(at):
        entry = A.do_withdraw_stock(
            actor=nurse, session_id=s.pk, lot_id=option.lot.pk, location_id=option.location.pk, occurred_at=at
        )
    return entry.lot


def _waste(nurse: User, witness: User, s: Any, at: dt.datetime) -> None:
    from ketaclinic.web.demo import DEMO_PASSWORD

    with _clock(at):
        A.do_waste_remainder(
            actor=nurse,
            session_id=s.pk,
            witness_id=witness.pk,
            witness_password=DEMO_PASSWORD,
            reason="unused remainder of the vial",
            occurred_at=at,
        )


def _vitals(nurse: User, sid: int, at: dt.datetime, sbp: int, dbp: int, hr: int, spo2: int = 98) -> None:
    with _clock(at):
        A.do_record_vitals(
            actor=nurse,
            session_id=sid,
            taken_at=at,
            values={
                "systolic": sbp,
                "diastolic": dbp,
                "heart_rate": hr,
                "spo2": spo2,
                "respiratory_rate": 14,
            },
        )


def _scheduled(course: Any, prescriber: User, nurse: User, when: dt.datetime, signed_at: dt.datetime) -> Any:
    with _clock(signed_at):
        order = A.do_sign_order(actor=prescriber, course_id=course.pk, planned_for=when)
        return A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=when)


def _pre_dose(nurse: User, s: Any, t: dt.datetime) -> None:
    with _clock(t):
        A.do_check_in(actor=nurse, session_id=s.pk)
    _vitals(nurse, s.pk, t + dt.timedelta(minutes=3), 118, 76, 72)
    with _clock(t + dt.timedelta(minutes=6)):
        A.do_pass_pre_dose_checks(
            actor=nurse,
            session_id=s.pk,
            data={
                "fasting_confirmed": True,
                "transport_confirmed": True,
                "escort_name": s.patient.emergency_contact_name or "Family member",
                "pregnancy_test": "negative",
                "rems_enrolment_verified": True,
            },
        )


def _finish(nurse: User, s: Any, last_vitals: dt.datetime) -> None:
    t = last_vitals + dt.timedelta(minutes=2)
    with _clock(t):
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=5, taken_at=t)
        A.do_mark_discharge_ready(actor=nurse, session_id=s.pk, escort_present=True)
    with _clock(t + dt.timedelta(minutes=3)):
        A.do_discharge(actor=nurse, session_id=s.pk)


def run_iv_session(s: Any, nurse: User, t: dt.datetime, witness: User) -> None:
    """Check-in, pre-dose checks, a vial withdrawn from the ledger, a 40-min infusion with vitals every 10 min,
    the remainder wasted in front of `witness`, 30+ min observation, discharge (the session reconciles)."""
    _pre_dose(nurse, s, t)
    lot = _withdraw(nurse, s, t + dt.timedelta(minutes=8))
    start = t + dt.timedelta(minutes=10)
    with _clock(start):
        A.do_record_administration(
            actor=nurse,
            session_id=s.pk,
            dose_mg=s.order.dose_mg,
            lot_id=lot.pk,
            administered_at=start,
            duration_min=40,
        )
    for k, (sbp, dbp, hr) in enumerate([(126, 80, 76), (132, 84, 78), (128, 82, 76), (124, 80, 74)], 1):
        _vitals(nurse, s.pk, start + dt.timedelta(minutes=10 * k - 1), sbp, dbp, hr)
    with _clock(start + dt.timedelta(minutes=40)):
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="cadss", score=14)
        A.do_end_dosing(actor=nurse, session_id=s.pk, ended_at=start + dt.timedelta(minutes=40))
    _waste(nurse, witness, s, start + dt.timedelta(minutes=45))
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=55), 122, 78, 72)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=72), 120, 78, 72)
    _finish(nurse, s, start + dt.timedelta(minutes=72))


def run_esketamine_session(s: Any, nurse: User, t: dt.datetime) -> None:
    """The ordered devices withdrawn from the ledger, given 5 min apart, BP at 40 min, observation until 2 h after
    the first device, discharge (every withdrawn device administered: the session reconciles without waste)."""
    _pre_dose(nurse, s, t)
    lot = _withdraw(nurse, s, t + dt.timedelta(minutes=8))
    start = t + dt.timedelta(minutes=10)
    devices = int(s.order.dose_mg // 28)
    for d in range(devices):
        at = start + dt.timedelta(minutes=5 * d)
        with _clock(at):
            A.do_record_administration(
                actor=nurse, session_id=s.pk, dose_mg=28, lot_id=lot.pk, administered_at=at
            )
    with _clock(start + dt.timedelta(minutes=5 * devices)):
        A.do_end_dosing(actor=nurse, session_id=s.pk)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=40), 134, 84, 78)
    with _clock(start + dt.timedelta(minutes=41)):
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="moaas", score=4)
        A.do_record_scale(actor=nurse, session_id=s.pk, kind="cadss", score=11)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=80), 126, 80, 74)
    _vitals(nurse, s.pk, start + dt.timedelta(minutes=118), 120, 78, 72)
    _finish(nurse, s, start + dt.timedelta(minutes=119))


def _cleared(
    ctx: DemoContext, *, rems_site: bool, count: int, skip: set[int]
) -> list[tuple[Any, dt.datetime]]:
    """(patient, screened at) of patients the screening demo cleared, oldest screening first; without the
    screening demo, eligible patients screened here 21 days ago."""
    from ketaclinic.web.assessments.selectors import has_unacknowledged_suicide_alert
    from ketaclinic.web.screening.selectors import screening_latest

    pool = ctx.extra.get("cleared_patients")
    if not pool:
        at = ctx.now - dt.timedelta(days=21)
        picked = _eligible(ctx, rems_site=rems_site, count=count, skip=skip)
        for p in picked:
            clear_screening(
                p, ctx.staff["dr.patel"], "intranasal" if rems_site else "iv", at, ctx.staff["dr.okafor"]
            )
        return [(p, at) for p in picked]
    screened: list[tuple[dt.datetime, Any]] = []
    for p in pool:
        run = screening_latest(p)
        if run is not None:  # the screening demo cleared every patient of the pool
            screened.append((run.created_at, p))
    out = []
    for at, p in sorted(screened, key=lambda row: (row[0], row[1].pk)):
        if p.pk in skip or p.latest_weight() is None or has_unacknowledged_suicide_alert(p):
            continue
        if rems_site and not (p.home_site and p.home_site.rems_certified):
            continue
        out.append((p, at))
        if len(out) == count:
            break
    return out


def _other(nurse: User, ctx: DemoContext) -> Any:
    return ctx.staff["nurse.silva"] if nurse is ctx.staff["nurse.kim"] else ctx.staff["nurse.kim"]


def seed(ctx: DemoContext) -> None:
    """Stock in the ledger; three IV and two esketamine patients (cleared by the screening demo) with completed
    sessions and today's sessions for the board; IV induction for six patients with assessment histories."""
    prescriber, prescriber2 = ctx.staff["dr.patel"], ctx.staff["dr.okafor"]
    nurse, nurse2 = ctx.staff["nurse.kim"], ctx.staff["nurse.silva"]
    now = ctx.now
    day = dt.timedelta(days=1)
    receive_demo_stock(ctx)
    used: set[int] = set()
    esk = _cleared(ctx, rems_site=True, count=2, skip=used)
    used |= {p.pk for p, _ in esk}
    iv = _cleared(ctx, rems_site=False, count=3, skip=used)
    used |= {p.pk for p, _ in iv}

    for i, (patient, screened_at) in enumerate(iv):
        doc = prescriber if i % 2 == 0 else prescriber2
        begun = screened_at + dt.timedelta(hours=2)
        course = consent_and_course(patient, doc, "iv-racemic-depression", "ketamine_racemic", begun)
        for k in range(3):
            t = begun + (1 + 3.5 * k) * day
            if t > now - 2 * day:  # today's session must be ≥ 44 h after it (dose-guard interval)
                break
            s = _scheduled(course, doc, nurse, t, t - day)
            n = nurse if k % 2 == 0 else nurse2
            run_iv_session(s, n, t, _other(n, ctx))
        # Today's session: the first patient is checked in, the others are scheduled.
        s = _scheduled(course, doc, nurse, now + dt.timedelta(minutes=20 * i), now - dt.timedelta(hours=6))
        if i == 0:
            A.do_check_in(actor=nurse, session_id=s.pk)

    for i, (patient, screened_at) in enumerate(esk):
        begun = screened_at + dt.timedelta(hours=2)
        course = consent_and_course(patient, prescriber, "esketamine-trd", "esketamine_nasal", begun)
        for k, mg in enumerate(["56", "56", "84"][: 2 + i]):
            t = begun + (1 + 4 * k) * day
            if t > now - 2 * day:
                break
            with _clock(t - day):
                order = A.do_sign_order(
                    actor=prescriber, course_id=course.pk, planned_for=t, dose_mg=Decimal(mg)
                )
                s = A.do_schedule_session(actor=nurse, order_id=order.pk, scheduled_for=t)
            run_esketamine_session(s, nurse, t)
        _scheduled(
            course,
            prescriber,
            nurse,
            now + dt.timedelta(hours=1, minutes=20 * i),
            now - dt.timedelta(hours=5),
        )

    # Patients with 8 weeks of scales: an IV induction (up to 6 sessions, every 3.5 days) starting the day after
    # their baseline scores, so response / remission / time to first response are computed from real doses.
    treated = 0
    for h in ctx.extra.get("assessment_history", []):
        patient = h["patient"]
        if treated == 6:
            break
        if h["open_alert"] or patient.pk in used or patient.latest_weight() is None:
            continue
        doc, cosigner = (prescriber, prescriber2) if treated % 2 == 0 else (prescriber2, prescriber)
        baseline = h["baseline_at"]
        clear_screening(patient, doc, "iv", baseline - 2 * day, cosigner)
        course = consent_and_course(patient, doc, "iv-racemic-depression", "ketamine_racemic", baseline - day)
        for k in range(6):
            t = baseline + (1 + 3.5 * k) * day + dt.timedelta(hours=2)
            if t > now - day:
                break
            s = _scheduled(course, doc, nurse, t, t - day)
            n = nurse if (treated + k) % 2 == 0 else nurse2
            run_iv_session(s, n, t, _other(n, ctx))
        used.add(patient.pk)
        treated += 1

    # One REMS form already submitted, the rest due on the dashboard.

    first = (
        RemsMonitoringForm.objects.filter(session__clinic=ctx.clinic).order_by("generated_at", "pk").first()
    )
    if first is not None:
        with _clock(first.generated_at + dt.timedelta(days=1)):
            A.do_submit_rems_form(actor=nurse, form_id=first.pk, reference="REMS-SUB-0001")
