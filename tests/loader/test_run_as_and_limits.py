"""task_run_as and task_limits: an operator may pick a user the administrator allows and lower a run's limits,
never lift them above SCHEDULER_LIMITS_MAX; the engine applies the same ceiling to a task saved under an older one."""
import pytest
from rest_framework.test import APIClient

from tasks_app.definition.loader import TaskLoader
from tasks_app.engine.limits import limits_for
from tasks_app.models import Task

from ..api.conftest import make_user, simple_task
from .test_loader import NO_TASKS, refuse

GiB = 1024 ** 3


@pytest.fixture
def ceilings(settings):
    settings.SCHEDULER_LIMITS = {"processes": 512, "open_files": 1024}
    settings.SCHEDULER_LIMITS_MAX = {"memory": 2 * GiB, "processes": 512, "open_files": 1024}
    settings.SCHEDULER_RUN_AS_ALLOWED = ["alice", "bob:staff"]


def test_a_task_may_name_a_user_the_administrator_allows_or_none(tasks_dir, minimal, ceilings):
    for user in ("", "alice", "bob:staff"):
        assert TaskLoader().clean(minimal(task_run_as=user), existing=NO_TASKS)["task_run_as"] == user


def test_a_user_the_administrator_does_not_allow_is_refused_naming_the_field_and_the_list(tasks_dir, minimal,
                                                                                         ceilings):
    refuse(minimal(task_run_as="root"), "task_run_as", 'task_run_as "root" is not a user the administrator allows',
           "SCHEDULER_RUN_AS_ALLOWED: alice, bob:staff")


def test_limits_within_the_ceiling_are_kept_as_written(tasks_dir, minimal, ceilings):
    limits = {"memory": "512M", "cpu": 600, "processes": "64", "file_size": "1G", "open_files": 256}
    assert TaskLoader().clean(minimal(task_limits=limits), existing=NO_TASKS)["task_limits"] == limits


@pytest.mark.parametrize("limits, fragment", [
    ({"memory": "4G"}, 'task_limits: memory "4G" is above the most a task may ask for, 2147483648'),
    ({"memory": "none"}, 'task_limits: memory "none" is above the most a task may ask for'),
    ({"processes": 100000}, "task_limits: processes 100000 is above the most a task may ask for, 512"),
    ({"disk": "1G"}, "task_limits: unknown limit 'disk'"),
    ({"cpu": "soon"}, "task_limits: cpu 'soon': expected a whole number"),
    (["memory"], "task_limits must be an object"),
])
def test_a_limit_above_the_ceiling_or_unreadable_is_refused_naming_it(tasks_dir, minimal, ceilings, limits, fragment):
    refuse(minimal(task_limits=limits), "task_limits", fragment)


def test_a_limit_without_a_ceiling_may_be_anything(tasks_dir, minimal, ceilings):
    data = minimal(task_limits={"cpu": "none", "file_size": "100G"})
    assert TaskLoader().clean(data, existing=NO_TASKS)["task_limits"] == {"cpu": "none", "file_size": "100G"}


@pytest.mark.django_db
def test_an_operator_cannot_lift_a_limit_through_the_api(tasks_dir, ceilings):
    client = APIClient()
    client.force_authenticate(make_user("op", "operator"))
    response = client.post("/api/tasks", simple_task("t1", task_exec="tasks/test_task.py",
                                                     task_limits={"processes": "none"}), format="json")
    assert response.status_code == 400
    assert "task_limits: processes" in str(response.json()["task_limits"])
    assert not Task.objects.exists()
    response = client.post("/api/tasks", simple_task("t1", task_limits={"processes": 64}, task_run_as="alice"),
                           format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["task_limits"], response.json()["task_run_as"]) == ({"processes": 64}, "alice")


def test_the_engine_holds_a_task_saved_under_a_higher_ceiling_to_todays(ceilings, settings):
    task = Task(task_id="t1", task_limits={"memory": "8G", "processes": 64, "cpu": 30})
    assert limits_for(task) == {"memory": 2 * GiB, "processes": 64, "cpu": 30, "open_files": 1024}
    settings.SCHEDULER_LIMITS_MAX = {}
    assert limits_for(task)["memory"] == 8 * GiB
