"""Writes of the treatment domain: courses, signed orders, the dosing-session state machine and its records.

One module per topic (Zulip's `zerver/actions/` layout); this package re-exports every public action so
`from ketaclinic.web.treatment.actions import do_sign_order` and `actions.do_sign_order` keep working.
Every action validates, runs in one transaction with its audit row, and changes nothing when it raises.
"""

from __future__ import annotations

from ketaclinic.web.treatment.actions.charting import (
    do_acknowledge_session_alert,
    do_record_intervention,
    do_record_scale,
    do_record_side_effect,
    do_record_vitals,
    do_resolve_side_effect,
    record_vitals_in,
)
from ketaclinic.web.treatment.actions.common import DEVICE_REST_MIN, REMS_FORM_DAYS, TRANSITIONS, S
from ketaclinic.web.treatment.actions.courses import (
    do_add_clinic_protocol,
    do_schedule_session,
    do_sign_and_schedule,
    do_sign_order,
    do_start_course,
)
from ketaclinic.web.treatment.actions.custody import (
    do_return_unused_stock,
    do_waste_remainder,
    do_withdraw_stock,
)
from ketaclinic.web.treatment.actions.discharge import (
    do_cancel_session,
    do_discharge,
    do_mark_discharge_ready,
    do_submit_rems_form,
)
from ketaclinic.web.treatment.actions.dosing import (
    do_end_dosing,
    do_record_administration,
    do_set_infusion_paused,
)
from ketaclinic.web.treatment.actions.sessions import do_check_in, do_pass_pre_dose_checks
from ketaclinic.web.treatment.selectors import CONSENT_PRODUCT

__all__ = [
    "CONSENT_PRODUCT",
    "DEVICE_REST_MIN",
    "REMS_FORM_DAYS",
    "TRANSITIONS",
    "S",
    "do_acknowledge_session_alert",
    "do_add_clinic_protocol",
    "do_cancel_session",
    "do_check_in",
    "do_discharge",
    "do_end_dosing",
    "do_mark_discharge_ready",
    "do_pass_pre_dose_checks",
    "do_record_administration",
    "do_record_intervention",
    "do_record_scale",
    "do_record_side_effect",
    "do_record_vitals",
    "do_resolve_side_effect",
    "do_return_unused_stock",
    "do_schedule_session",
    "do_set_infusion_paused",
    "do_sign_and_schedule",
    "do_sign_order",
    "do_start_course",
    "do_submit_rems_form",
    "do_waste_remainder",
    "do_withdraw_stock",
    "record_vitals_in",
]
