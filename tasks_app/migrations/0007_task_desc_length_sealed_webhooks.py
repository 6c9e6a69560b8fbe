"""task_desc holds at most 10,000 characters; webhook URLs saved in clear before they were secrets are sealed
under the secrets key (tasks_app/secrets/keys.py), as every webhook saved from now on is."""
from django.db import migrations, models


def seal_webhooks(apps, schema_editor):
    from tasks_app.secrets import keys
    from tasks_app.secrets.values import SHOWN, shown_url

    Task = apps.get_model("tasks_app", "Task")
    for task in Task.objects.exclude(task_notify={}).only("pk", "task_notify").iterator():
        notify = task.task_notify if isinstance(task.task_notify, dict) else {}
        hook = notify.get("webhook")
        if isinstance(hook, str) and hook.strip():
            notify["webhook"] = keys.seal(hook.strip(), **{SHOWN: shown_url(hook.strip())})
            Task.objects.filter(pk=task.pk).update(task_notify=notify)


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0006_task_run_as_limits'),
    ]

    operations = [
        migrations.AlterField(
            model_name='task',
            name='task_desc',
            field=models.TextField(blank=True, default='', max_length=10000),
        ),
        migrations.RunPython(seal_webhooks, migrations.RunPython.noop),
    ]
