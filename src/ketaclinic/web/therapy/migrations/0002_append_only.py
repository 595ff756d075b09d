"""Psychotherapy notes and their shares are never edited or deleted: the database rejects UPDATE and DELETE."""

from django.db import migrations

from ketaclinic.web.lib.appendonly import append_only


class Migration(migrations.Migration):
    dependencies = [("therapy", "0001_initial")]
    operations = [append_only("therapy_psychotherapynote"), append_only("therapy_psychotherapynoteshare")]
