from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0003_clinical_read_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="clinic",
            name="weight_max_age_days",
            field=models.PositiveIntegerField(
                default=30,
                help_text="A weight older than this many days is flagged on the patient banner (re-weigh before dosing).",
            ),
        ),
    ]
