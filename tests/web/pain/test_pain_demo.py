"""Demo pain patients, seeded through the pain actions: tapers, a patch, methadone, buprenorphine, none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ketaclinic.web import demo
from ketaclinic.web.pain import selectors
from ketaclinic.web.pain.models import CoursePainIndication, OpioidMedication

# Seconds each (subprocesses or the whole demo seed): `-m 'not slow'` skips them in a quick loop.
pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(demo, "DOMAIN_APPS", ("pain",))
    ctx = demo.seed_demo(patients=8)
    assert ctx is not None
    return ctx


def test_pain_demo(seeded: Any) -> None:
    from ketaclinic.web.patients.models import Patient

    assert sorted(CoursePainIndication.objects.values_list("kind", flat=True)) == [
        "crps", "crps", "fibromyalgia", "fibromyalgia", "migraine", "neuropathic",
    ]  # fmt: skip
    patients = [Patient.objects.get(pk=pk) for pk in seeded.extra["pain_patients"]]
    loads = [selectors.current_load(p) for p in patients]
    assert [(r.total_mme_per_day, r.complete) for r in loads] == [
        (Decimal("30.00"), True),  # oxycodone 10 mg twice a day after two taper steps
        (Decimal("20.00"), True),  # tramadol 50 mg twice a day
        (Decimal("28.80"), True),  # fentanyl 12 micrograms per hour
        (Decimal("141.00"), True),  # methadone 10 mg three times a day
        (Decimal("0.00"), False),  # buprenorphine: not convertible
        (Decimal("0.00"), True),  # no opioids
    ]
    assert "naloxone_offer" in loads[3].finding_codes
    assert OpioidMedication.objects.filter(replaces__isnull=False).count() == 4
    share, rows = selectors.clinic_sparing(seeded.clinic)
    assert (share.numerator, share.denominator, share.no_opioid_at_baseline, share.incomplete_load) == (
        3,
        4,
        1,
        1,
    )
    assert len(rows) == 6
