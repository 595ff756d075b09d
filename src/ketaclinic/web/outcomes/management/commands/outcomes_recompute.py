"""`ketaclinic manage outcomes_recompute [--clinic SLUG]`: recompute every clinic's cohort figures (run nightly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Recompute each clinic's cohort outcome figures and store them as snapshots (run it nightly)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clinic", help="Only this clinic (its slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        from ketaclinic.web.clinics.models import Clinic
        from ketaclinic.web.outcomes.actions import do_recompute_cohort_snapshots

        clinics = Clinic.objects.order_by("slug")
        if options.get("clinic"):
            clinics = clinics.filter(slug=options["clinic"])
            if not clinics.exists():
                raise CommandError(f"clinic: no clinic with slug {options['clinic']!r}")
        for clinic in clinics:
            snaps = do_recompute_cohort_snapshots(clinic=clinic)
            for s in snaps:
                self.stdout.write(
                    f"{clinic.slug} {s.instrument_id}: {s.figures['n']} enrolled, {s.figures['evaluable']} evaluable"
                )
            if not snaps:
                self.stdout.write(f"{clinic.slug}: no scores yet")
