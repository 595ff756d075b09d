"""The named audit event vocabulary: every action an audit row can record, with a numeric code per domain.

Each domain owns a block of 100 codes (access 100-199, accounts 200-299, ... treatment 700-799, ledger 900-999),
as Zulip's audit log codes do. A member's value is the string stored in the audit row (`"course.start"`), so
rows written before the vocabulary existed read back as the same member: stored history is never rewritten
and the hash chain over it is unchanged.

Rules: codes are assigned once and never reused or renumbered; a new event takes the next free code in its
domain's block; a retired event stays in the enum so old rows still read.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class AuditDomain(IntEnum):
    """The first code of each domain's block of 100."""

    ACCESS = 100
    ACCOUNTS = 200
    CLINICS = 300
    PATIENTS = 400
    SCREENING = 500
    ASSESSMENTS = 600
    TREATMENT = 700
    MONITORING = 800
    LEDGER = 900
    SURVEILLANCE = 1000
    TELEHEALTH = 1100
    THERAPY = 1200
    CAREPLAN = 1300
    PAIN = 1400
    OUTCOMES = 1500
    PATIENTPREP = 1600
    DECISION = 1700
    HOME = 1800
    SYSTEM = 1900


class AuditAction(StrEnum):
    """One kind of audited event. `value` is the stored action string; `code` its number in its domain's block."""

    code: int

    def __new__(cls, stored: str, code: int) -> AuditAction:
        member = str.__new__(cls, stored)
        member._value_ = stored
        member.code = code
        return member

    @property
    def domain(self) -> AuditDomain:
        return AuditDomain(self.code - self.code % 100)

    @classmethod
    def from_stored(cls, stored: str) -> AuditAction | None:
        """The member for a stored action string, or None for a string outside the vocabulary."""
        member = cls._value2member_map_.get(stored)
        return member if isinstance(member, cls) else None

    # access: 100-199
    ACCESS_DENIED = "access.denied", 101
    AUTH_LOCKOUT = "auth.lockout", 102
    AUTH_LOGIN = "auth.login", 103
    AUTH_LOGIN_FAILED = "auth.login_failed", 104
    AUTH_LOGIN_REFUSED_INACTIVE = "auth.login_refused_inactive", 105
    AUTH_LOGIN_REFUSED_LOCKED = "auth.login_refused_locked", 106
    AUTH_LOGOUT = "auth.logout", 107
    AUTH_WITNESS_FAILED = "auth.witness_failed", 108
    AUTH_WITNESS_OK = "auth.witness_ok", 109
    AUTH_WITNESS_REFUSED_INACTIVE = "auth.witness_refused_inactive", 110
    AUTH_WITNESS_REFUSED_LOCKED = "auth.witness_refused_locked", 111
    AUTH_2FA_ENROLLED = "auth.2fa_enrolled", 112
    AUTH_2FA_FAILED = "auth.2fa_failed", 113
    AUTH_2FA_OK = "auth.2fa_ok", 114
    AUTH_2FA_RECOVERY_USED = "auth.2fa_recovery_used", 115
    AUTH_2FA_REFUSED_LOCKED = "auth.2fa_refused_locked", 116
    AUTH_2FA_REPLAY_REFUSED = "auth.2fa_replay_refused", 117
    AUTH_2FA_RESET = "auth.2fa_reset", 118
    # accounts: 200-299
    API_TOKEN_CREATE = "api_token.create", 201
    API_TOKEN_REVOKE = "api_token.revoke", 202
    API_TOKEN_REVOKE_ALL = "api_token.revoke_all", 203
    MEMBERSHIP_APPROVE = "membership.approve", 204
    MEMBERSHIP_GRANT = "membership.grant", 205
    MEMBERSHIP_REVOKE = "membership.revoke", 206
    STAFF_LIST = "staff.list", 207
    USER_CREATE = "user.create", 208
    USER_DEACTIVATE = "user.deactivate", 209
    USER_INVITE = "user.invite", 210
    USER_PASSWORD_CHANGE = "user.password_change", 211
    USER_PASSWORD_RESET_FORCED = "user.password_reset_forced", 212
    USER_PASSWORD_SET = "user.password_set", 213
    USER_REACTIVATE = "user.reactivate", 214
    # clinics: 300-399
    CLINIC_CREATE = "clinic.create", 301
    CLINIC_STAFF_POLICY = "clinic.staff_policy", 302
    CLINIC_TOKEN_LIFETIME = "clinic.token_lifetime", 303
    CLINIC_UPDATE = "clinic.update", 304
    SITE_CREATE = "site.create", 305
    SITE_UPDATE = "site.update", 306
    CLINIC_SMALL_CELL_THRESHOLD = "clinic.small_cell_threshold", 307
    CLINIC_TWO_FACTOR_POLICY = "clinic.two_factor_policy", 308
    # patients: 400-499
    PATIENT_CARE_TEAM_ADD = "patient.care_team_add", 401
    PATIENT_CREATE = "patient.create", 402
    PATIENT_EXPORT_FHIR = "patient.export_fhir", 403
    PATIENT_SEARCH = "patient.search", 404
    PATIENT_UPDATE = "patient.update", 405
    PATIENT_VIEW = "patient.view", 406
    PATIENT_WEIGHT_RECORD = "patient.weight_record", 407
    REGISTRATION_CREATE = "registration.create", 408
    # screening: 500-599
    SCREENING_CLEAR = "screening.clear", 501
    SCREENING_CONSENT_RECORD = "screening.consent_record", 502
    SCREENING_IMPORT = "screening.import", 503
    SCREENING_INTAKE_ADD = "screening.intake_add", 504
    SCREENING_INTAKE_RETRACT = "screening.intake_retract", 505
    SCREENING_OVERRIDE_COSIGN = "screening.override_cosign", 506
    SCREENING_OVERRIDE_PROPOSE = "screening.override_propose", 507
    SCREENING_RUN = "screening.run", 508
    SCREENING_RUN_VIEW = "screening.run.view", 509
    SCREENING_VIEW = "screening.view", 510
    # assessments: 600-699
    ASSESSMENT_CREATE = "assessment.create", 601
    ASSESSMENT_EXPORT_FHIR = "assessment.export_fhir", 602
    ASSESSMENT_LIST = "assessment.list", 603
    ASSESSMENT_VIEW = "assessment.view", 604
    REMOTE_LINK_CREATE = "remote_link.create", 605
    REMOTE_LINK_REVOKE = "remote_link.revoke", 606
    REMOTE_SCHEDULE_CREATE = "remote_schedule.create", 607
    REMOTE_SCHEDULE_STOP = "remote_schedule.stop", 608
    SUICIDE_ALERT_ACKNOWLEDGE = "suicide_alert.acknowledge", 609
    SUICIDE_ALERT_RAISE = "suicide_alert.raise", 610
    # treatment: 700-799
    ADMINISTRATION_RECORD = "administration.record", 701
    COURSE_END = "course.end", 702
    COURSE_START = "course.start", 703
    COURSE_VIEW = "course.view", 704
    INTERVENTION_RECORD = "intervention.record", 705
    ORDER_SIGN = "order.sign", 706
    ORDER_VIEW = "order.view", 707
    PROTOCOL_ADD = "protocol.add", 708
    REMS_DASHBOARD_VIEW = "rems.dashboard.view", 709
    REMS_FORM_EXPORT = "rems_form.export", 710
    REMS_FORM_SUBMIT = "rems_form.submit", 711
    REMS_FORM_VIEW = "rems_form.view", 712
    SCALE_RECORD = "scale.record", 713
    SESSION_CANCELLED = "session.cancelled", 714
    SESSION_CHECKED_IN = "session.checked_in", 715
    SESSION_DISCHARGE_READY = "session.discharge_ready", 716
    SESSION_DISCHARGED = "session.discharged", 717
    SESSION_DOSING = "session.dosing", 718
    SESSION_EXPORT = "session.export", 719
    SESSION_INFUSION_PAUSED = "session.infusion_paused", 720
    SESSION_INFUSION_RESUMED = "session.infusion_resumed", 721
    SESSION_MONITORING = "session.monitoring", 722
    SESSION_PRE_DOSE_CHECKS = "session.pre_dose_checks", 723
    SESSION_SCHEDULE = "session.schedule", 724
    SESSION_VIEW = "session.view", 725
    SESSION_ALERT_ACKNOWLEDGE = "session_alert.acknowledge", 726
    SESSION_ALERT_ACTION = "session_alert.action", 727
    SIDE_EFFECT_RECORD = "side_effect.record", 728
    SIDE_EFFECT_RESOLVE = "side_effect.resolve", 729
    TREATMENT_BOARD_VIEW = "treatment.board.view", 730
    VITALS_RECORD = "vitals.record", 731
    # monitoring: 800-899
    DEVICE_ATTACH = "device.attach", 801
    DEVICE_DETACH = "device.detach", 802
    DEVICE_REGISTER = "device.register", 803
    DEVICE_REVOKE = "device.revoke", 804
    DEVICE_ROTATE_TOKEN = "device.rotate_token", 805
    MONITORING_ALERT_ACKNOWLEDGE = "monitoring.alert.acknowledge", 806
    MONITORING_ALERT_ESCALATE = "monitoring.alert.escalate", 807
    MONITORING_ALERT_VIEW = "monitoring.alert.view", 808
    MONITORING_ALERTS_VIEW = "monitoring.alerts.view", 809
    MONITORING_BOARD_VIEW = "monitoring.board.view", 810
    MONITORING_DEVICE_VIEW = "monitoring.device.view", 811
    MONITORING_DEVICES_VIEW = "monitoring.devices.view", 812
    # ledger: 900-999
    LEDGER_ADJUSTMENT = "ledger.adjustment", 901
    LEDGER_ADMINISTRATION = "ledger.administration", 902
    LEDGER_CASE_OPEN = "ledger.case.open", 903
    LEDGER_CASE_RESOLVE = "ledger.case.resolve", 904
    LEDGER_CASE_VIEW = "ledger.case.view", 905
    LEDGER_COUNT = "ledger.count", 906
    LEDGER_DASHBOARD_VIEW = "ledger.dashboard.view", 907
    LEDGER_DEADLINE_COMPLETE = "ledger.deadline.complete", 908
    LEDGER_DESTRUCTION = "ledger.destruction", 909
    LEDGER_ENTRIES_VIEW = "ledger.entries.view", 910
    LEDGER_ENTRY_VIEW = "ledger.entry.view", 911
    LEDGER_INVENTORY_VIEW = "ledger.inventory.view", 912
    LEDGER_LOCATION_CREATE = "ledger.location.create", 913
    LEDGER_LOCATION_VIEW = "ledger.location.view", 914
    LEDGER_LOT_VIEW = "ledger.lot.view", 915
    LEDGER_PRODUCT_CREATE = "ledger.product.create", 916
    LEDGER_RECEIPT = "ledger.receipt", 917
    LEDGER_REGISTER_VIEW = "ledger.register.view", 918
    LEDGER_RETURN_TO_STOCK = "ledger.return_to_stock", 919
    LEDGER_RETURN_TO_SUPPLIER = "ledger.return_to_supplier", 920
    LEDGER_SUPPLIER_CREATE = "ledger.supplier.create", 921
    LEDGER_THEFT_LOSS = "ledger.theft_loss", 922
    LEDGER_TRANSFER = "ledger.transfer", 923
    LEDGER_VERIFY = "ledger.verify", 924
    LEDGER_WASTE = "ledger.waste", 925
    LEDGER_WITHDRAWAL = "ledger.withdrawal", 926
    # surveillance: 1000-1099
    LAB_RESULT_IMPORT = "lab_result.import", 1001
    LAB_RESULT_RECORD = "lab_result.record", 1002
    SAFETY_FOLLOWUP_CLOSE_TASK = "safety_followup.close_task", 1003
    SAFETY_FOLLOWUP_CREATE = "safety_followup.create", 1004
    SURVEILLANCE_EXPORT_FHIR = "surveillance.export_fhir", 1005
    SURVEILLANCE_VIEW = "surveillance.view", 1006
    SURVEILLANCE_WATCHLIST_VIEW = "surveillance.watchlist_view", 1007
    SURVEILLANCE_DECISION_RECORD = "surveillance_decision.record", 1008
    SURVEILLANCE_SETTINGS_UPDATE = "surveillance_settings.update", 1009
    SAFETY_PLAN_OPEN = "safety_plan.open", 1010
    SAFETY_PLAN_COMPLETE = "safety_plan.complete", 1011
    SAFETY_PLAN_PRINT = "safety_plan.print", 1012
    # telehealth: 1100-1199
    TELEHEALTH_CONSENT_RECORD = "telehealth.consent_record", 1101
    TELEHEALTH_CONSENT_WITHDRAW = "telehealth.consent_withdraw", 1102
    TELEHEALTH_LICENCE_RECORD = "telehealth.licence_record", 1103
    TELEHEALTH_POLICY_SET = "telehealth.policy_set", 1104
    TELEHEALTH_VISIT_CANCEL = "telehealth.visit_cancel", 1105
    TELEHEALTH_VISIT_COMPLETE = "telehealth.visit_complete", 1106
    TELEHEALTH_VISIT_SCHEDULE = "telehealth.visit_schedule", 1107
    # therapy: 1200-1299
    THERAPY_EXPORT = "therapy.export", 1201
    THERAPY_NOTE_CREATE = "therapy.note_create", 1202
    THERAPY_NOTE_SHARE = "therapy.note_share", 1203
    THERAPY_NOTE_VIEW = "therapy.note_view", 1204
    THERAPY_NOTES_AUTHORISATION_RECORD = "therapy.notes_authorisation_record", 1205
    THERAPY_NOTES_AUTHORISATION_REVOKE = "therapy.notes_authorisation_revoke", 1206
    THERAPY_SESSION_RECORD = "therapy.session_record", 1207
    THERAPY_SETTINGS_SET = "therapy.settings_set", 1208
    # careplan: 1300-1399
    CAREPLAN_ACTIVITY_ADD = "careplan.activity_add", 1301
    CAREPLAN_ACTIVITY_STATUS = "careplan.activity_status", 1302
    CAREPLAN_CREATE = "careplan.create", 1303
    CAREPLAN_EXPORT = "careplan.export", 1304
    CAREPLAN_GOAL_ADD = "careplan.goal_add", 1305
    CAREPLAN_GOAL_STATUS = "careplan.goal_status", 1306
    CAREPLAN_SAFETY_PLAN_UPDATE = "careplan.safety_plan_update", 1307
    CAREPLAN_VIEW = "careplan.view", 1308
    # pain: 1400-1499
    PAIN_COHORT_VIEW = "pain.cohort_view", 1401
    PAIN_INDICATION_SET = "pain.indication_set", 1402
    PAIN_LAST_OPIOID_DOSE = "pain.last_opioid_dose", 1403
    PAIN_NALOXONE_OFFER = "pain.naloxone_offer", 1404
    PAIN_OPIOID_ADD = "pain.opioid_add", 1405
    PAIN_OPIOID_DOSE_CHANGE = "pain.opioid_dose_change", 1406
    PAIN_OPIOID_STOP = "pain.opioid_stop", 1407
    PAIN_OVERDOSE_HISTORY_SET = "pain.overdose_history_set", 1408
    # outcomes: 1500-1599
    EXPORT_CANCEL = "export.cancel", 1501
    FHIR_BULK_EXPORT_COMPLETE = "fhir.bulk_export.complete", 1502
    FHIR_BULK_EXPORT_DOWNLOAD = "fhir.bulk_export.download", 1503
    FHIR_BULK_EXPORT_KICKOFF = "fhir.bulk_export.kickoff", 1504
    OUTCOMES_PROGRESS_REPORT = "outcomes.progress_report", 1505
    OUTCOMES_RECOMPUTE = "outcomes.recompute", 1506
    OUTCOMES_SUMMARY_PDF = "outcomes.summary_pdf", 1507
    OUTCOMES_VIEW = "outcomes.view", 1508
    RESEARCH_EXTRACT_COMPLETE = "research_extract.complete", 1509
    RESEARCH_EXTRACT_DOWNLOAD = "research_extract.download", 1510
    RESEARCH_EXTRACT_KICKOFF = "research_extract.kickoff", 1511
    EXPORT_RESUMED = "export.resumed", 1512
    # patientprep: 1600-1699
    PATIENTPREP_ATTENDANCE = "patientprep.attendance", 1601
    PATIENTPREP_LINK_CREATE = "patientprep.link_create", 1602
    PATIENTPREP_LINK_REVOKE = "patientprep.link_revoke", 1603
    PATIENTPREP_REFLECTION = "patientprep.reflection", 1604
    # decision: 1700-1799
    DECISION_PK_CURVE_VIEW = "decision.pk_curve.view", 1701
    # home: 1800-1899
    ALERT_INBOX_VIEW = "alert_inbox.view", 1801
    HOME_VIEW = "home.view", 1802
    # system: 1900-1999
    AUDIT_VIEW = "audit.view", 1901
    DEMO_SEED = "demo.seed", 1902
