"""Spravato REMS Patient Monitoring Form: fields from a discharged session and a PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone


def _bp(v: Any) -> str | None:
    return f"{v.systolic}/{v.diastolic}" if v is not None and v.systolic and v.diastolic else None


def rems_form_data(session: Any) -> dict[str, Any]:
    """The form's fields (numbered as on the form), computed from the session's records."""
    p = session.patient
    admins = list(session.administrations.all())
    first = admins[0].administered_at if admins else None
    vitals = [v for v in session.vitals.all() if v.systolic and v.diastolic]
    pre = next((v for v in reversed(vitals) if v.is_baseline), None) or next(
        (v for v in reversed(vitals) if first is None or v.taken_at <= first), None
    )
    at40 = None
    if first is not None:
        target = first + dt.timedelta(minutes=40)
        near = [v for v in vitals if abs(v.taken_at - target) <= dt.timedelta(minutes=5)]
        at40 = min(near, key=lambda v: abs(v.taken_at - target)) if near else None
    end = vitals[-1] if vitals else None
    total = int(sum(a.dose_mg for a in admins))
    effects = {se.code for se in session.side_effects.all()}
    monitor_end = session.discharged_at or timezone.now()
    site = session.site
    hcp = session.discharged_by
    from ketaclinic.web.treatment.models import DosingSession

    first_treatment = (
        not DosingSession.objects.filter(
            patient=p, first_dose_at__lt=first or monitor_end, status=DosingSession.Status.DISCHARGED
        )
        .exclude(pk=session.pk)
        .exists()
    )
    return {
        "1_patient": {
            "name": p.full_name,
            "birth_date": p.birth_date.isoformat(),
            "sex": p.sex_at_birth,
            "first_treatment": first_treatment,
            "enrolled": session.course.rems_patient_enrolled,
            "rems_patient_id": session.course.rems_patient_id,
        },
        "2_concomitant_medications": {
            "benzodiazepines": None,
            "non_benzodiazepine_sedative_hypnotics": None,
            "psychostimulants": None,
            "maois": None,
            "opioids": None,
        },
        "3_monitoring_hcp": {
            "name": getattr(hcp, "display_name", "") or (hcp.get_username() if hcp else ""),
            "phone": getattr(hcp, "phone", "") or "",
            "email": getattr(hcp, "email", "") or "",
            "setting_name": site.name if site else "",
            "setting_address": (
                ", ".join(x for x in (site.address_line, site.city, site.region, site.postal_code) if x)
                if site
                else ""
            ),
            "setting_rems_id": site.rems_certification_id if site else "",
        },
        "4_treatment": {
            "date": (first or monitor_end).date().isoformat(),
            "dose": "56 mg" if total == 56 else "84 mg" if total == 84 else f"Other ({total} mg)",
            "lot_numbers": sorted({a.lot_number for a in admins}),
        },
        "5_treatment_duration_min": int((monitor_end - first).total_seconds() // 60) if first else None,
        "6_ready_to_leave_min": session.rems_ready_minutes,
        "7_vitals_acceptable": {
            "before_administration": session.pre_dose_passed_at is not None,
            "before_end_of_session": session.discharged_at is not None,
        },
        "8_blood_pressure": {
            "before_administration": _bp(pre),
            "at_40_min": _bp(at40),
            "before_end": _bp(end),
        },
        "9_sedation_dissociation_respiratory_depression": {
            "sedation": "sedation" in effects
            or session.scale_readings.filter(kind="moaas", score__lt=5).exists(),
            "dissociation": "dissociation" in effects,
            "respiratory_depression": "respiratory_depression" in effects,
            "lowest_spo2": min((v.spo2 for v in session.vitals.all() if v.spo2), default=None),
        },
        "10_serious_adverse_events": [
            se.get_code_display() for se in session.side_effects.all() if se.serious
        ],
        "11_submit_by": None,
    }


def render_rems_pdf(form: Any) -> bytes:
    """The form as a one-page PDF (fpdf2), for fax or upload to SPRAVATOrems.com."""
    from fpdf import FPDF

    d = form.data
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "SPRAVATO REMS - Patient Monitoring Form (outpatient)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(
        0,
        6,
        f"Session {form.session_id} - generated {form.generated_at:%Y-%m-%d %H:%M %Z} - submit by "
        f"{form.due_on.isoformat()} (within 7 days)",
        new_x="LMARGIN",
        new_y="NEXT",
    )

    def line(label: str, value: Any) -> None:
        text = (
            "" if value is None else (", ".join(map(str, value)) if isinstance(value, list) else str(value))
        )
        text = text.replace("\u2013", "-").encode("latin-1", "replace").decode("latin-1")
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(70, 6, label)
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 6, text or "-", new_x="LMARGIN", new_y="NEXT")

    p = d["1_patient"]
    line("1. Patient", f"{p['name']}, DOB {p['birth_date']}, {p['sex']}")
    line(
        "   First treatment / enrolled",
        f"{'Yes' if p['first_treatment'] else 'No'} / {'Yes' if p['enrolled'] else 'No'}",
    )
    for k, v in d["2_concomitant_medications"].items():
        line(f"2. {k.replace('_', ' ')}", "Yes" if v else "No" if v is False else "(to complete)")
    h = d["3_monitoring_hcp"]
    line("3. Monitoring HCP", f"{h['name']} {h['phone']} {h['email']}")
    line("   Healthcare setting", f"{h['setting_name']} {h['setting_address']}")
    t = d["4_treatment"]
    line("4. Treatment date / dose", f"{t['date']} / {t['dose']}")
    line("   Lot number(s)", t["lot_numbers"])
    line("5. Treatment duration (min)", d["5_treatment_duration_min"])
    line("6. Ready to leave at (min)", d["6_ready_to_leave_min"])
    va = d["7_vitals_acceptable"]
    line(
        "7. Vitals acceptable before / end",
        f"{'Y' if va['before_administration'] else 'N'} / {'Y' if va['before_end_of_session'] else 'N'}",
    )
    bp = d["8_blood_pressure"]
    line(
        "8. BP before / 40 min / end",
        f"{bp['before_administration']} / {bp['at_40_min']} / {bp['before_end']}",
    )
    s = d["9_sedation_dissociation_respiratory_depression"]
    line(
        "9. Sedation / dissociation / resp. dep.",
        f"{'Y' if s['sedation'] else 'N'} / {'Y' if s['dissociation'] else 'N'} / "
        f"{'Y' if s['respiratory_depression'] else 'N'} (lowest SpO2 {s['lowest_spo2']})",
    )
    line("10. Serious adverse events", d["10_serious_adverse_events"] or "None")
    line("11. Submit", f"within 7 days: online at SPRAVATOrems.com or fax 1-877-778-0091 (due {form.due_on})")
    return bytes(pdf.output())
