"""What an execution's record says about its confinement: the user its script ran as, its limits and what
enforced them, and the processes it left behind, stored by the scheduler and shown by the API's execution
detail and the admin's execution page."""
from django.urls import reverse

from tasks_app.engine import bookkeeping
from tasks_app.engine.runner import run_execution
from tasks_app.models import TaskExecution


def test_the_api_and_the_admin_show_the_runs_user_limits_and_leftovers(make_run, project, marker, admin_client):
    execution = make_run(project.script("escape.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})
    execution.task.task_limits = {"memory": "256M", "cpu": 60}
    result = run_execution(execution)
    bookkeeping.ends_and_statuses(bookkeeping.ended_rows([(execution, result, "")]), [])
    row = TaskExecution.objects.get(pk=execution.pk)
    assert (row.run_as, row.leftover_processes) == (result.run_as, 1) and row.run_as
    assert row.limits == result.limits and row.limits["memory"] == 256 * 1024 * 1024 and row.limits["cpu"] == 60

    body = admin_client.get(f"/api/tasks/{row.task.task_id}/executions/{row.pk}").json()
    assert (body["run_as"], body["limits"], body["leftover_processes"]) == (row.run_as, row.limits, 1)

    page = admin_client.get(reverse("admin:tasks_app_taskexecution_change", args=[row.pk])).content.decode()
    mechanism = row.limits["mechanism"]
    assert f"memory 256 MiB, cpu 60 s, processes 512, open files 1024 ({mechanism})" in page
    assert row.run_as in page
