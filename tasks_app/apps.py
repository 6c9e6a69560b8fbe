from django.apps import AppConfig


class TasksAppConfig(AppConfig):
    name = "tasks_app"
    verbose_name = "Task scheduling engine"
    default_auto_field = "django.db.models.BigAutoField"
