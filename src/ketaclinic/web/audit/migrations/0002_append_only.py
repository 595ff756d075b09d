"""The audit trail and patient version history reject UPDATE and DELETE at the database level."""

from django.db import migrations

from ketaclinic.web.lib.appendonly import append_only


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("patients", "0001_initial")]
    operations = [append_only("audit_auditevent"), append_only("patients_patientversion")]
