"""Clinic, Site and the controlled-substance registrations each site holds."""

from __future__ import annotations

from django.db import models

from ketaclinic.web.clinics.jurisdictions import JURISDICTION_CHOICES, country_of


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    is_synthetic = models.BooleanField(default=False, help_text="Demo data made by `ketaclinic demo`.")
    created_at = models.DateTimeField(auto_now_add=True)
    registrant = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person who holds the clinic's controlled-substance registration; may approve role grants.",
    )
    grant_cooling_off_hours = models.PositiveIntegerField(
        default=0,
        help_text="Hours after which a controlled-stock role grant takes effect without a second approval "
        "(0: a second admin or the registrant must approve).",
    )
    clinical_read_roles = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Roles without clinical reads (front_desk, clinic_admin) that this clinic lets read clinical "
        "data, comma-separated.",
    )
    api_token_days = models.PositiveIntegerField(
        default=90, help_text="Lifetime in days of API tokens made by this clinic's staff."
    )
    weight_max_age_days = models.PositiveIntegerField(
        default=30,
        help_text="A weight older than this many days is flagged on the patient banner (re-weigh before dosing).",
    )
    small_cell_threshold = models.PositiveSmallIntegerField(
        default=11,
        help_text="Outcome counts from 1 up to one below this are suppressed for researchers and in aggregate "
        "exports (11: the CMS cell-size suppression policy).",
    )
    require_two_factor_for_all = models.BooleanField(
        default=False,
        help_text="Every member signs in with a second factor (roles that prescribe, witness, move controlled "
        "stock or administer the clinic always do).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(max_length=200)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    jurisdiction = models.CharField(max_length=8, choices=JURISDICTION_CHOICES)
    timezone = models.CharField(max_length=64, default="UTC")
    rems_certified = models.BooleanField(
        default=False, help_text="Spravato REMS healthcare-setting certification."
    )
    rems_certification_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["clinic__name", "name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="uniq_site_name_per_clinic")]

    def __str__(self) -> str:
        return f"{self.name} ({self.clinic.name})"

    @property
    def country(self) -> str:
        return country_of(self.jurisdiction)


class Registration(models.Model):
    """A controlled-substance registration, licence or permit held by a site."""

    class Kind(models.TextChoices):
        DEA = "dea", "US DEA registration"
        STATE_CSR = "state_csr", "US state controlled-substance registration"
        UK_HOME_OFFICE = "uk_home_office", "UK Home Office controlled drug licence"
        UK_CQC = "uk_cqc", "UK CQC registration"
        AU_S8_PERMIT = "au_s8_permit", "Australian state S8 permit / licence"
        OTHER = "other", "Other"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="registrations")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    number = models.CharField(max_length=64)
    schedules = models.CharField(max_length=64, blank=True, help_text="e.g. 'III' or '2, 3'")
    expires_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["site_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["site", "kind", "number"], name="uniq_registration")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"
