"""The pages (/, /tasks/new, /tasks/{id}/view, ...), plus the small actions and fragments their scripts use."""
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from . import views_actions as actions
from . import views_audit as audit
from . import views_backfills as backfills
from . import views_bulk as bulk
from . import views_calendars as calendars
from . import views_channels as channels
from . import views_dashboard as dashboard
from . import views_graph as graph
from . import views_hooks as hooks
from . import views_pauses as pauses
from . import views_runs as runs
from . import views_tasks as tasks
from . import views_workers as workers



class TaskIdConverter:
    """Only what a task_id can be: anything else is a 404 before any query (PostgreSQL refuses a NUL byte)."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class VersionConverter:
    """A version number: 1 to 9 digits (a longer one would overflow the database's integers)."""

    regex = "[1-9][0-9]{0,8}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(TaskIdConverter, "task_id")
register_converter(VersionConverter, "version")
T = "tasks/<task_id:task_id>/"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", tasks.TaskListView.as_view(), name="task_list"),
    path("dashboard", dashboard.DashboardView.as_view(), name="dashboard"),
    path("audit", audit.AuditListView.as_view(), name="audit"),
    path("channels", channels.ChannelListView.as_view(), name="channel_list"),
    path("channels/new", channels.ChannelFormView.as_view(), name="channel_new"),
    path("channels/<slug:name>/edit", channels.ChannelFormView.as_view(editing=True), name="channel_edit"),
    path("channels/<slug:name>/test", channels.ChannelTestView.as_view(), name="channel_test"),
    path("channels/<slug:name>/delete", channels.ChannelDeleteView.as_view(), name="channel_delete"),
    path("graph", graph.GraphView.as_view(), name="graph"),
    path("calendars", calendars.CalendarListView.as_view(), name="calendar_list"),
    path("calendars/new", calendars.CalendarFormView.as_view(), name="calendar_new"),
    path("calendars/<slug:name>", calendars.CalendarMonthView.as_view(), name="calendar_month"),
    path("calendars/<slug:name>/edit", calendars.CalendarFormView.as_view(editing=True), name="calendar_edit"),
    path("calendars/<slug:name>/delete", calendars.CalendarDeleteView.as_view(), name="calendar_delete"),
    path("tasks/new", tasks.TaskFormView.as_view(), name="task_new"),
    path("tasks/bulk", bulk.BulkActionView.as_view(), name="task_bulk"),
    path("tasks/cron-preview", actions.CronPreviewView.as_view(), name="cron_preview"),
    path(T + "view", tasks.TaskDetailView.as_view(), name="task_view"),
    path(T + "edit", tasks.TaskFormView.as_view(editing=True), name="task_edit"),
    path(T + "delete", tasks.TaskDeleteView.as_view(), name="task_delete"),
    path(T + "run", actions.RunNowView.as_view(), name="task_run"),
    path(T + "enable", actions.SetEnabledView.as_view(enabled=True), name="task_enable"),
    path(T + "disable", actions.SetEnabledView.as_view(enabled=False), name="task_disable"),
    path(T + "stop", actions.StopView.as_view(), name="task_stop"),
    path(T + "hooks/new", hooks.HookCreateView.as_view(), name="task_hook_new"),
    path(T + "hooks/<int:hook_id>/revoke", hooks.HookRevokeView.as_view(), name="task_hook_revoke"),
    path(T + "logs", runs.LogPageView.as_view(), name="task_logs"),
    path(T + "logs/lines", runs.LogLinesView.as_view(), name="task_log_lines"),
    path(T + "logs/download", runs.LogDownloadView.as_view(), name="task_log_download"),
    path(T + "executions", runs.ExecutionListView.as_view(), name="task_executions"),
    path(T + "backfill", backfills.BackfillStartView.as_view(), name="task_backfill"),
    path(T + "backfills/<int:backfill_id>/cancel", backfills.BackfillCancelView.as_view(), name="backfill_cancel"),
    path(T + "versions", audit.TaskVersionsView.as_view(), name="task_versions"),
    path(T + "versions/<version:number>/restore", audit.RestoreVersionView.as_view(), name="task_version_restore"),
    path(T + "executions/<int:execution_id>", runs.ExecutionDetailView.as_view(), name="execution_view"),
    path("workers", workers.WorkerListView.as_view(), name="worker_list"),
    path("pauses", pauses.PauseListView.as_view(), name="pause_list"),
    path("pauses/<int:pause_id>/resume", pauses.ResumeView.as_view(), name="pause_resume"),
]
