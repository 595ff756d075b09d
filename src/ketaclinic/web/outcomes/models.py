"""Export jobs (FHIR Bulk Data and the de-identified research extract) and the nightly cohort snapshots."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ExportJob(models.Model):
    """One asynchronous export of a clinic's data; its files live under the data directory's exports/ folder."""

    class Kind(models.TextChoices):
        FHIR_BULK = "fhir_bulk", "FHIR Bulk Data export"
        RESEARCH = "research", "De-identified research extract"

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    request_url = models.CharField(max_length=500, blank=True)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACCEPTED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of patients written.")
    transaction_time = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    output = models.JSONField(default=list, help_text="[{type, file, count}]")
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the process running the job."
    )
    attempts = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["clinic", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id} ({self.status})"


class CohortSnapshot(models.Model):
    """The clinic's cohort figures for one measure as recomputed (nightly by `outcomes_recompute`)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    instrument_id = models.CharField(max_length=32)
    computed_at = models.DateTimeField()
    figures = models.JSONField(help_text="The `ketaclinic outcomes` summary, without per-patient rows.")

    class Meta:
        ordering = ["-computed_at", "instrument_id"]
        indexes = [models.Index(fields=["clinic", "instrument_id", "computed_at"])]

    def __str__(self) -> str:
        return f"{self.instrument_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class NightlyRecompute(models.Model):
    """The claim on one clinic's nightly recompute: at most one row per clinic and night (the clinic's local
    date), so of several server processes exactly one recomputes; a failed night may be claimed again."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    night = models.DateField(help_text="The clinic's local date of the run.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "night"], name="uniq_recompute_per_night")]

    def __str__(self) -> str:
        return f"recompute {self.night} ({self.status})"
