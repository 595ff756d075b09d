"""Ending a treatment course, and the hooks other apps register to act on a course's end in its transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.core.audit.events import AuditAction
from ketaclinic.web.access import access_patient_by_id
from ketaclinic.web.accounts.roles import Perm, require_perm
from ketaclinic.web.lib.audit import record_audit
from ketaclinic.web.lib.errors import ConflictError, NotFoundError, ValidationFailed
from ketaclinic.web.treatment.models import DosingSession, TreatmentCourse

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ketaclinic.web.accounts.models import User


#: hook(course, actor, request), run inside the course-end transaction (e.g. follow-up links); its result is
#: not used.
CourseEndHook = Callable[[TreatmentCourse, "User", "HttpRequest | None"], object]
COURSE_END_HOOKS: list[CourseEndHook] = []
_OPEN_SESSION = (
    DosingSession.Status.CHECKED_IN,
    DosingSession.Status.PRE_DOSE_CHECKS,
    DosingSession.Status.DOSING,
    DosingSession.Status.MONITORING,
    DosingSession.Status.DISCHARGE_READY,
)


def register_course_end_hook(hook: CourseEndHook) -> None:
    if hook not in COURSE_END_HOOKS:
        COURSE_END_HOOKS.append(hook)


def do_end_course(
    *, actor: User, course_id: int, outcome: Any, reason: Any, request: HttpRequest | None = None
) -> TreatmentCourse:
    """A prescriber ends an active course as completed or stopped, with a reason. Refused while a session of
    the course is under way; sessions still only scheduled are left for the clinic to cancel."""
    errors: dict[str, list[str]] = {}
    if outcome not in (TreatmentCourse.Status.COMPLETED, TreatmentCourse.Status.STOPPED):
        errors["outcome"] = ["must be completed or stopped"]
    reason_text = str(reason or "").strip()
    if not reason_text:
        errors["reason"] = ["give the reason the course ends"]
    elif len(reason_text) > 300:
        errors["reason"] = ["must be at most 300 characters"]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        course = TreatmentCourse.objects.select_for_update().filter(pk=course_id).first()
        if course is None:
            raise NotFoundError("no such course")
        patient = access_patient_by_id(actor, course.patient_id, audit_action=None, request=request)
        require_perm(actor, patient.clinic_id, Perm.COURSE_MANAGE)
        if course.status != TreatmentCourse.Status.ACTIVE:
            raise ConflictError("the course has already ended")
        if course.sessions.filter(status__in=_OPEN_SESSION).exists():
            raise ConflictError("a session of this course is under way; end the course after its discharge")
        course.status = outcome
        course.ended_at = timezone.now()
        course.end_reason = reason_text
        course.save(update_fields=["status", "ended_at", "end_reason"])
        record_audit(
            actor=actor,
            action=AuditAction.COURSE_END,
            obj=course,
            patient=patient,
            request=request,
            detail={"outcome": outcome, "reason": reason_text},
        )
        for hook in COURSE_END_HOOKS:
            hook(course, actor, request)
    return course
