"""task_queue: the Celery queue a task's runs go to (SCHEDULER_EXECUTOR=celery). A queue name is 1 to 64 letters,
digits, '-', '_' or '.'; blank means the default queue; anything else is refused naming the field and the value."""
import pytest
from rest_framework.test import APIClient

from tasks_app.conffile.render import render_task
from tasks_app.definition.fields import task_to_dict
from tasks_app.definition.loader import TaskLoader
from tasks_app.models import Task

from ..api.conftest import make_user, simple_task
from .test_loader import NO_TASKS, refuse


@pytest.mark.parametrize("queue", ["default", "gpu.large", "reports-eu_1", "x" * 64])
def test_a_queue_name_is_kept(tasks_dir, minimal, queue):
    assert TaskLoader().clean(minimal(task_queue=queue), existing=NO_TASKS)["task_queue"] == queue


def test_a_task_without_a_queue_goes_to_the_default_one(tasks_dir, minimal):
    assert TaskLoader().clean(minimal(), existing=NO_TASKS)["task_queue"] == "default"
    assert TaskLoader().clean(minimal(task_queue="  "), existing=NO_TASKS)["task_queue"] == "default"


@pytest.mark.parametrize("queue", ["bad queue", "a/b", "队列", "x" * 65, "q*"])
def test_a_queue_name_with_other_characters_is_refused_naming_it(tasks_dir, minimal, queue):
    refuse(minimal(task_queue=queue), "task_queue", "task_queue", "is not a queue name" if len(queue) <= 64 else "")


def test_a_queue_that_is_not_text_is_refused(tasks_dir, minimal):
    refuse(minimal(task_queue=3), "task_queue", "task_queue must be text, got an integer 3")


@pytest.mark.django_db
def test_the_api_takes_a_queue_and_refuses_a_bad_one_with_a_400(tasks_dir):
    client = APIClient()
    client.force_authenticate(make_user("op", "operator"))
    bad = client.post("/api/tasks", simple_task("t1", task_exec="tasks/test_task.py", task_queue="no way"),
                      format="json")
    assert bad.status_code == 400 and 'task_queue "no way" is not a queue name' in str(bad.json()["task_queue"])
    good = client.post("/api/tasks", simple_task("t1", task_exec="tasks/test_task.py", task_queue="reports"),
                       format="json")
    assert good.status_code == 201 and good.json()["task_queue"] == "reports"
    assert Task.objects.get(task_id="t1").task_queue == "reports"


def test_conf_tasks_json_holds_the_queue_only_when_it_is_not_the_default():
    plain = render_task(task_to_dict(Task(task_id="a", task_name="a", task_exec="x.py")))
    routed = render_task(task_to_dict(Task(task_id="b", task_name="b", task_exec="x.py", task_queue="gpu")))
    assert "task_queue" not in plain and routed["task_queue"] == "gpu"
