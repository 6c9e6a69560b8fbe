"""The alert rules that apply to a task: the built-in defaults, the settings' TASK_ALERTS, then its task_alerts."""
from django.conf import settings

from tasks_app.definition import alert_rules


def rules_for(task) -> dict:
    return alert_rules.effective(getattr(task, "task_alerts", None), settings.TASK_ALERTS)
