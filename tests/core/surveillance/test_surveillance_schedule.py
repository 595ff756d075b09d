"""Exposure and the due/overdue schedule, rule by rule, at every boundary day."""

from __future__ import annotations

import pytest
from tests.core.surveillance.surveillance_helpers import (
    all_screens_done,
    assess,
    codes,
    day,
    dose,
    history,
    obs,
    run,
    ts,
)

from ketaclinic.core.surveillance import HistoryError, parse_history

# ------------------------------------------------------------------------------------------ exposure


def test_exposure_counts_sessions_as_utc_days_and_sums_mg() -> None:
    h = history(
        [
            dose(0, 35),
            dose(0, 10, hour=11),  # same day: one session
            {
                "time": f"{day(2).isoformat()}T23:30:00-02:00",
                "drug": "ketamine",
                "route": "iv",
                "dose_mg": 42,
            },
            dose(5, 35),
            dose(40, 35),  # after `on`: ignored
        ]
    )
    r = run(h, 10)
    # Day 2 at 23:30 -02:00 is day 3 at 01:30 UTC: a session of its own.
    assert [s.day for s in r.sessions] == [day(0), day(3), day(5)]
    assert r.exposure.to_dict() == {
        "sessions": 3,
        "total_mg": 122.0,
        "total_mg_per_kg": 122.0 / 70.0,
        "first_dose": ts(0),
        "last_dose": ts(5),
    }


def test_no_doses_means_no_exposure_and_no_schedule() -> None:
    r = run(history(assessments=[assess("bpic-ss", 0, total=3)]), 10)
    assert r.exposure.to_dict() == {
        "sessions": 0,
        "total_mg": 0.0,
        "total_mg_per_kg": 0.0,
        "first_dose": None,
        "last_dose": None,
    }
    assert (r.on_treatment, r.findings) == (False, ())


# ------------------------------------------------------------------------------------------ on treatment


@pytest.mark.parametrize(("on", "on_treatment"), [(90, True), (91, False)])
def test_on_treatment_includes_the_90th_day(on: int, on_treatment: bool) -> None:
    r = run(history([dose(0)]), on)
    assert r.on_treatment is on_treatment
    expected = [("bladder_screen_overdue", "overdue")] if on_treatment else []
    assert codes(r, "bladder_screen") == expected


def test_course_end_does_not_end_on_treatment() -> None:
    r = run(history([dose(0)], all_screens_done(0), course_end=day(1).isoformat()), 80)
    assert r.on_treatment is True
    assert codes(r, "bladder_screen") == [("bladder_screen_due", "due")]


# ------------------------------------------------------------------------------------------ 90-day items


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (75, []),  # 15 days before the date: not yet
        (76, [("bladder_screen_due", "due")]),  # 14 days before
        (90, [("bladder_screen_due", "due")]),  # the date itself
        (91, [("bladder_screen_overdue", "overdue")]),
    ],
)
def test_bladder_screen_window_around_latest_result_plus_90(on: int, expected: list[tuple[str, str]]) -> None:
    h = history([dose(0), dose(60)], [assess("bpic-ss", 0, total=5)])
    r = run(h, on)
    assert codes(r, "bladder_screen") == expected
    if expected:
        f = next(f for f in r.findings if f.code.startswith("bladder_screen"))
        assert f.evidence == ("assessments[0]",)
        assert f.due_date == day(90)


@pytest.mark.parametrize(
    ("item", "instrument"),
    [("bladder_screen", "bpic-ss"), ("dependence_screen", "sds"), ("cognition_screen", "cognition")],
)
def test_each_90_day_item_first_falls_due_at_the_first_dose(item: str, instrument: str) -> None:
    h = history([dose(10), dose(12)])
    assert codes(run(h, 10), item) == [(f"{item}_due", "due")]
    assert codes(run(h, 11), item) == [(f"{item}_overdue", "overdue")]
    f = next(f for f in run(h, 11).findings if f.code.startswith(item))
    assert f.evidence == ("doses[0]",)
    # a result before the first dose counts: its day + 90
    h2 = history([dose(10), dose(12)], [assess(instrument, 0, total=1)])
    assert codes(run(h2, 75), item) == []
    assert codes(run(h2, 76), item) == [(f"{item}_due", "due")]


def test_latest_result_sets_the_date_and_later_records_are_ignored() -> None:
    h = history([dose(0), dose(80)], [assess("bpic-ss", 0, total=2), assess("bpic-ss", 50, total=2)])
    assert codes(run(h, 120), "bladder_screen") == []  # 50 + 90 = 140; window opens on 126
    assert codes(run(h, 126), "bladder_screen") == [("bladder_screen_due", "due")]
    # on day 49 the day-50 result does not exist yet: 0 + 90 = 90 -> overdue on 91 is not reached; due 76..90
    assert codes(run(h, 49), "bladder_screen") == []


# ------------------------------------------------------------------------------------------ urinalysis


@pytest.mark.parametrize(
    ("on", "expected"),
    [(0, [("urinalysis_due", "due")]), (1, [("urinalysis_overdue", "overdue")])],
)
def test_urinalysis_first_due_at_first_dose(on: int, expected: list[tuple[str, str]]) -> None:
    assert codes(run(history([dose(0)]), on), "urinalysis") == expected


def test_urinalysis_every_180_days_after_a_dipstick_5794_3() -> None:
    h = history([dose(0), dose(150)], observations=[obs("5794-3", 0, "negative")])
    assert codes(run(h, 165), "urinalysis") == []
    assert codes(run(h, 166), "urinalysis") == [("urinalysis_due", "due")]
    assert codes(run(h, 181), "urinalysis") == [("urinalysis_overdue", "overdue")]
    # another LOINC code does not meet it
    h2 = history([dose(0)], observations=[obs("5799-2", 0, "negative")])
    assert codes(run(h2, 1), "urinalysis") == [("urinalysis_overdue", "overdue")]


# ------------------------------------------------------------------------------------------ liver enzymes


def _sessions(n: int) -> list[dict[str, object]]:
    return [dose(2 * k) for k in range(n)]  # sessions on days 0, 2, 4, ...


def test_liver_enzymes_not_due_before_the_13th_session() -> None:
    r = run(history(_sessions(12)), 30)
    assert codes(r, "liver") == []
    assert next(s for s in r.items if s.code == "liver_enzymes").status == "not_due_yet"


def test_liver_enzymes_fall_due_at_the_13th_session() -> None:
    h = history(_sessions(13))  # the 13th session is day 24
    r = run(h, 24)
    assert codes(r, "liver") == [("liver_enzymes_due", "due")]
    f = next(f for f in r.findings if f.code == "liver_enzymes_due")
    assert (f.due_date, f.evidence) == (day(24), ("doses[12]",))
    assert codes(run(h, 25), "liver") == [("liver_enzymes_overdue", "overdue")]


@pytest.mark.parametrize("code", ["1742-6", "1920-8"])
def test_alt_or_ast_meets_the_liver_item_for_180_days(code: str) -> None:
    h = history([*_sessions(13), dose(150)], observations=[obs(code, 24, 30, reference_high=40)])
    assert codes(run(h, 189), "liver") == []
    assert codes(run(h, 190), "liver") == [("liver_enzymes_due", "due")]
    assert codes(run(h, 205), "liver") == [("liver_enzymes_overdue", "overdue")]


# ------------------------------------------------------------------------------------------ follow-ups


def _ended(extra: list[dict[str, object]] | None = None) -> dict[str, object]:
    # last dose day 0, course ended day 0; screens done so only the follow-ups speak
    return history([dose(0)], all_screens_done(-1) + (extra or []), course_end=day(0).isoformat())


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (-1, []),  # course end after `on`: ignored
        (0, [("withdrawal_followup_due", "due")]),
        (7, [("withdrawal_followup_due", "due")]),
        (8, [("withdrawal_followup_overdue", "overdue")]),
        (13, [("withdrawal_followup_overdue", "overdue")]),
        (14, [("withdrawal_followup_overdue", "overdue"), ("withdrawal_followup_due", "due")]),
        (28, [("withdrawal_followup_overdue", "overdue"), ("withdrawal_followup_due", "due")]),
        (29, [("withdrawal_followup_overdue", "overdue"), ("withdrawal_followup_overdue", "overdue")]),
    ],
)
def test_withdrawal_followups_at_7_and_28_days(on: int, expected: list[tuple[str, str]]) -> None:
    assert codes(run(_ended(), on), "withdrawal") == expected


def test_sds_on_the_day_of_course_end_meets_the_7_day_followup_only() -> None:
    r = run(_ended([assess("sds", 0, total=1)]), 29)
    assert codes(r, "withdrawal") == [("withdrawal_followup_overdue", "overdue")]
    f = next(f for f in r.findings if f.code.startswith("withdrawal"))
    assert f.due_date == day(28)
    assert [s.status for s in r.items if s.code.startswith("withdrawal")] == ["met", "overdue"]


def test_sds_from_day_14_meets_the_28_day_followup_and_the_7_day_one() -> None:
    assert codes(run(_ended([assess("sds", 14, total=0)]), 40), "withdrawal") == []
    # day 13 is too early for the 28-day one
    assert codes(run(_ended([assess("sds", 13, total=0)]), 29), "withdrawal") == [
        ("withdrawal_followup_overdue", "overdue")
    ]


def test_sds_before_course_end_meets_no_followup() -> None:
    assert codes(run(_ended([assess("sds", -1, total=0)]), 8), "withdrawal") == [
        ("withdrawal_followup_overdue", "overdue")
    ]


def test_course_end_date_time_counts_on_its_utc_day() -> None:
    h = history([dose(0)], all_screens_done(-1), course_end=f"{day(0).isoformat()}T23:00:00-05:00")
    # 23:00 -05:00 is 04:00 UTC the next day: the follow-up is due by day 8
    r = run(h, 8)
    assert codes(r, "withdrawal") == [("withdrawal_followup_due", "due")]


# ------------------------------------------------------------------------------------------ input


def test_date_only_times_are_utc_days() -> None:
    h = history([dose(0)], [{"instrument": "bpic-ss", "time": day(0).isoformat(), "total": 4}])
    assert parse_history(h).assessments[0].day == day(0)


def test_answers_are_scored_and_must_match_a_given_total() -> None:
    h = history([dose(0)], [assess("bpic-ss", 0, answers=[3, 3, 3, 3, 3, 2, 2, 2])])
    assert parse_history(h).assessments[0].total == 21.0
    bad = history([dose(0)], [assess("bpic-ss", 0, total=20, answers=[3, 3, 3, 3, 3, 2, 2, 2])])
    with pytest.raises(HistoryError) as exc:
        parse_history(bad)
    assert (exc.value.field, exc.value.reason) == (
        "assessments[0].total",
        "is 20 but the answers add up to 21",
    )
