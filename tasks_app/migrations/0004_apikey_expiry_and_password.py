"""API keys get an optional expiry and the fingerprint of their user's password; the keys made before this keep
working until their user's password changes (their fingerprint is taken from the password as it is now)."""
from django.db import migrations, models


def fingerprint_existing_keys(apps, schema_editor):
    from tasks_app.models.apikey import password_fingerprint

    ApiKey = apps.get_model("tasks_app", "ApiKey")
    for key in ApiKey.objects.select_related("user"):
        key.password_fingerprint = password_fingerprint(key.user)
        key.save(update_fields=["password_fingerprint"])


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0003_execution_task_start_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="expires_at",
            field=models.DateTimeField(blank=True, help_text="Empty: the key does not expire.", null=True),
        ),
        migrations.AddField(
            model_name="apikey",
            name="password_fingerprint",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.RunPython(fingerprint_existing_keys, migrations.RunPython.noop),
    ]
