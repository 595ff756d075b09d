"""Reads of the screening domain: latest result, clearance, consent, chart banner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse

from ketaclinic.web.screening.models import Consent, FindingReview, IntakeItem, ScreeningRun

if TYPE_CHECKING:
    from ketaclinic.web.patients.models import Patient


def screening_latest(patient: Patient) -> ScreeningRun | None:
    return ScreeningRun.objects.filter(patient=patient).first()


def intake_items_for(patient: Patient) -> list[IntakeItem]:
    return list(IntakeItem.objects.filter(patient=patient).select_related("recorded_by"))


def reviews_for(run: ScreeningRun) -> dict[str, FindingReview]:
    return {
        r.finding_code: r
        for r in FindingReview.objects.filter(run=run).select_related("prescriber", "cosigned_by")
    }


def screening_outstanding(run: ScreeningRun) -> list[dict[str, Any]]:
    """Findings of `run` that still need a prescriber decision (relative: cleared; absolute: overridden + co-signed)."""
    reviews = reviews_for(run)
    out = []
    for f in run.findings:
        if f["level"] == "caution":
            continue
        review = reviews.get(str(f["code"]))
        if review is None or not review.effective:
            out.append(f)
    return out


def screening_is_cleared(patient: Patient) -> bool:
    """True when the latest screening is eligible, or every relative/absolute finding has an effective review."""
    run = screening_latest(patient)
    if run is None:
        return False
    if run.decision == "eligible":
        return True
    return not screening_outstanding(run)


def consent_on_file(patient: Patient, *, indication: str, product: str) -> bool:
    return Consent.objects.filter(patient=patient, indication=indication, product=product).exists()


def screening_banners(patient: Patient) -> list[dict[str, str]]:
    """Chart banner: 'screening not cleared' until the latest screening is cleared."""
    if screening_is_cleared(patient):
        return []
    run = screening_latest(patient)
    url = reverse("screening:chart_tab", kwargs={"patient_id": patient.pk})
    if run is None:
        return [
            {
                "level": "warning",
                "text": "Screening not cleared: no eligibility screening on file",
                "url": url,
            }
        ]
    level = "danger" if run.decision == "ineligible" else "warning"
    return [{"level": level, "text": f"Screening not cleared: {run.decision.replace('_', ' ')}", "url": url}]


def _allergy_name(item: IntakeItem) -> str:
    code = item.resource.get("code") or {}
    text = code.get("text") if isinstance(code, dict) else None
    if text:
        return str(text)
    summary = item.summary
    return summary.rsplit(" (", 1)[0] if summary.endswith(")") else summary


def _allergy_active(item: IntakeItem) -> bool:
    status = item.resource.get("clinicalStatus") or {}
    codes = [c.get("code") for c in status.get("coding", [])] if isinstance(status, dict) else []
    return not codes or "active" in codes


def screening_banner_facts(patient: Patient, session: Any = None) -> dict[str, Any]:
    """Patient-banner facts: active allergies (names) and the screening status in words (2-3 queries)."""
    items = IntakeItem.objects.filter(
        patient=patient, kind=IntakeItem.Kind.ALLERGY, retracted_at__isnull=True
    ).only("resource", "summary")
    allergies = [_allergy_name(i) for i in items if _allergy_active(i)]
    run = screening_latest(patient)
    if run is None:
        status, level = "No eligibility screening on file", "warning"
    elif run.decision == "eligible":
        status, level = f"Eligible (screened {run.on:%Y-%m-%d})", "ok"
    elif not screening_outstanding(run):
        status, level = f"Cleared after prescriber review (screened {run.on:%Y-%m-%d})", "ok"
    elif run.decision == "ineligible":
        status, level = "Not cleared: ineligible", "danger"
    else:
        status, level = "Not cleared: needs a prescriber's review", "warning"
    return {"allergies": allergies, "screening": status, "screening_level": level}
