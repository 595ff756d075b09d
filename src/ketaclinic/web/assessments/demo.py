"""Assessments demo data: 8 weeks of PHQ-9 / MADRS / GAD-7 for 15 synthetic patients, through the real actions.

Trajectories are drawn per patient (remitters, responders who do not remit, partial and non-responders) and turned
into item answers that add up to the drawn totals. Some PHQ-9s arrive through remote links; three patients have a
weekly PHQ-9 schedule (so `ketaclinic run-schedules` has work). One earlier suicide-risk alert was acknowledged
with a documented action; one, from yesterday, is still open (chart banner; dosing blocked).
Patients MRN-000022..036 are used: MRN-000011 (assessments browser test) is never touched.
What was made is left in `ctx.extra["assessment_history"]` (patient, baseline time, trajectory, PHQ-9 days) so the
treatment demo can give doses between the baseline and the later scores (response and remission then show).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from unittest import mock

from django.utils import timezone

from ketaclinic.web.assessments import actions as A
from ketaclinic.web.assessments.models import SuicideAlert

if TYPE_CHECKING:
    from ketaclinic.web.demo import DemoContext

PATIENT_INDEXES = list(range(21, 36))  # MRN-000022 .. MRN-000036
WEEKS = 8
# (kind, share of the baseline left at the end): remission, response without remission, partial, none.
TRAJECTORIES = [("remitter", 0.15), ("responder", 0.4), ("partial", 0.7), ("non_responder", 0.92)]


@contextlib.contextmanager
def _clock(at: dt.datetime) -> Iterator[None]:
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def answers_for(total: int, maxima: list[int], rng: Any, fixed: dict[int, int] | None = None) -> list[int]:
    """Item answers (each 0..its maximum) adding up to exactly `total`; `fixed` pins items (0-based) first."""
    fixed = fixed or {}
    ans = [fixed.get(i, 0) for i in range(len(maxima))]
    free = [i for i in range(len(maxima)) if i not in fixed]
    room = sum(maxima[i] for i in free)
    left = max(0, min(total - sum(ans), room))
    while left > 0:
        i = rng.choice([j for j in free if ans[j] < maxima[j]])
        ans[i] += 1
        left -= 1
    return ans


def _curve(baseline: int, end_share: float, weeks: float, rng: random.Random, top: int, noise: float) -> int:
    """Score after `weeks`: an exponential approach to end_share x baseline (most change in the first weeks)."""
    target = baseline * end_share
    value = target + (baseline - target) * math.exp(-weeks / 1.6) + rng.gauss(0, noise)
    return max(0, min(top, round(value)))


def seed(ctx: DemoContext) -> None:
    rng = ctx.rng
    nurses = [ctx.staff["nurse.kim"], ctx.staff["nurse.silva"]]
    now = ctx.now
    start = now - dt.timedelta(weeks=WEEKS)
    history: list[dict[str, Any]] = []
    ctx.extra["assessment_history"] = history
    for k, idx in enumerate(PATIENT_INDEXES):
        p = ctx.patients[idx]
        nurse = nurses[k % 2]
        kind, end_share = TRAJECTORIES[k % len(TRAJECTORIES)]
        if kind == "remitter":
            end_share = rng.uniform(0.05, 0.18)
        offset = dt.timedelta(days=rng.randint(0, 5), hours=rng.randint(8, 10))
        phq_base = rng.randint(17, 25)
        madrs_base = rng.randint(28, 42)
        gad_base = rng.randint(10, 18)
        wants_gad = k % 3 != 2
        open_alert = k == 7  # a non-responder whose PHQ-9 item 9 turned positive yesterday
        # PHQ-9: baseline, then weekly (twice in the first two weeks).
        days = [0, 3, 7, 10, 14, 21, 28, 35, 42, 49, 56]
        history.append(
            {
                "patient": p,
                "baseline_at": start + offset,
                "trajectory": kind,
                "phq9_days": days,
                "open_alert": open_alert,
            }
        )
        for n, d in enumerate(days):
            at = start + offset + dt.timedelta(days=d)
            if at > now - dt.timedelta(hours=4):
                break
            total = _curve(phq_base, end_share, d / 7, rng, 27, 1.2) if n else phq_base
            fixed = {8: 0}
            if n == 0 and k == 3:
                fixed = {8: 1}  # passive thoughts at baseline: alert raised and acknowledged below
            ans = answers_for(total, [3] * 9, rng, fixed)
            context = "baseline" if n == 0 else "follow_up"
            remote = n >= 5 and k % 2 == 0
            with _clock(at):
                if remote:
                    _link, url = A.do_create_remote_link(
                        actor=nurse, patient_id=p.pk, instrument_id="phq9", valid_hours=72
                    )
                with _clock(at + dt.timedelta(hours=3)) if remote else contextlib.nullcontext():
                    if remote:
                        A.do_submit_remote_answers(token=url.rstrip("/").rsplit("/", 1)[1], answers=ans)
                    else:
                        A.do_record_assessment(
                            actor=nurse,
                            patient_id=p.pk,
                            instrument_id="phq9",
                            answers=ans,
                            context=context,
                            assessed_at=at,
                        )
        # MADRS (clinician-rated) at baseline and weeks 2, 4, 8.
        for w in (0, 2, 4, 8):
            at = start + offset + dt.timedelta(weeks=w, hours=1)
            if at > now - dt.timedelta(hours=2):
                at = now - dt.timedelta(hours=3)
            total = _curve(madrs_base, end_share, w, rng, 60, 2.0) if w else madrs_base
            ans = answers_for(total, [6] * 10, rng, {9: min(2, total // 12)})
            with _clock(at):
                A.do_record_assessment(
                    actor=nurse,
                    patient_id=p.pk,
                    instrument_id="madrs",
                    answers=ans,
                    context="baseline" if w == 0 else "follow_up",
                    assessed_at=at,
                )
        if wants_gad:
            for w in (0, 4, 8):
                at = start + offset + dt.timedelta(weeks=w, minutes=20)
                if at > now - dt.timedelta(hours=2):
                    at = now - dt.timedelta(hours=4)
                total = _curve(gad_base, min(1.0, end_share + 0.1), w, rng, 21, 1.0) if w else gad_base
                with _clock(at):
                    A.do_record_assessment(
                        actor=nurse,
                        patient_id=p.pk,
                        instrument_id="gad7",
                        answers=answers_for(total, [3] * 7, rng),
                        context="baseline" if w == 0 else "follow_up",
                        assessed_at=at,
                    )
        if k == 3:
            alert = SuicideAlert.objects.get(patient=p)
            with _clock(alert.raised_at + dt.timedelta(hours=2)):
                A.do_acknowledge_alert(
                    actor=ctx.staff["dr.patel"],
                    alert_id=alert.pk,
                    action="safety_plan",
                    note="Passive thoughts, no plan or intent. Safety plan written with the patient; "
                    "crisis line numbers given; partner aware.",
                )
        if open_alert:
            at = now - dt.timedelta(days=1, hours=2)
            total = max(9, _curve(phq_base, end_share, WEEKS, rng, 27, 1.0))
            with _clock(at):
                A.do_record_assessment(
                    actor=nurse,
                    patient_id=p.pk,
                    instrument_id="phq9",
                    answers=answers_for(total, [3] * 9, rng, {8: 1}),
                    context="follow_up",
                    assessed_at=at,
                )
        if k in (0, 4, 8):
            # A weekly PHQ-9: the first link was made by the scheduler at once; for the first of these patients
            # the second is due now (`ketaclinic run-schedules --once` makes it).
            created = now - (dt.timedelta(days=7, hours=3) if k == 0 else dt.timedelta(days=6, hours=20))
            with _clock(created):
                A.do_create_schedule(
                    actor=nurse, patient_id=p.pk, instrument_id="phq9", kind="interval", interval_days=7
                )
            with _clock(created + dt.timedelta(minutes=10)):
                A.materialise_due_links()
