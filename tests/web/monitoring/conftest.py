"""Monitoring fixtures: a session in progress, a registered device attached to it, helpers to post readings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from ketaclinic.web.monitoring import actions
from ketaclinic.web.monitoring.models import Device
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse


@pytest.fixture(autouse=True)
def fresh_engine() -> Any:
    """The alert engine is per process; each test starts from empty in-memory state."""
    actions.ENGINE.reset()
    actions._last_escalation_check[0] = float("inf")  # no opportunistic escalation unless a test asks
    yield
    actions.ENGINE.reset()
    actions._last_escalation_check[0] = 0.0


@pytest.fixture
def make_session(prescriber: Any) -> Callable[..., DosingSession]:
    def make(patient: Any, site: Any, status: str = DosingSession.Status.MONITORING) -> DosingSession:
        now = timezone.now()
        course = TreatmentCourse.objects.create(
            clinic=patient.clinic, patient=patient, protocol_id="iv-racemic-depression", protocol_version=1,
            protocol_snapshot={}, indication="TRD", started_by=prescriber, started_at=now - dt.timedelta(days=1),
        )  # fmt: skip
        return DosingSession.objects.create(
            clinic=patient.clinic, site=site, patient=patient, course=course, status=status,
            scheduled_for=now - dt.timedelta(hours=1), checked_in_at=now - dt.timedelta(minutes=50),
            first_dose_at=now - dt.timedelta(minutes=40),
        )  # fmt: skip

    return make


@pytest.fixture
def session(make_session: Callable[..., DosingSession], patient: Any, site: Any) -> DosingSession:
    return make_session(patient, site)


@pytest.fixture
def device_and_token(nurse: Any, site: Any) -> tuple[Device, str]:
    return actions.do_register_device(actor=nurse, site=site, label="Wrist 1", serial="W-0001")


@pytest.fixture
def device(device_and_token: tuple[Device, str]) -> Device:
    return device_and_token[0]


@pytest.fixture
def token(device_and_token: tuple[Device, str]) -> str:
    return device_and_token[1]


@pytest.fixture
def attached(device: Device, session: DosingSession, nurse: Any) -> Device:
    actions.do_attach_device(actor=nurse, device=device, session=session)
    return device
