"""An edit is validated before its transaction (on SQLite the transaction holds the one write lock) and validated
again inside only when what it was checked against changed meanwhile: the task itself, or, for an edit of its
dependencies or log, the other tasks' ids, dependencies and logs; not at every unrelated edit of another task."""
import pytest

from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Task
from tasks_app.services import tasks as task_services
from tests.api.conftest import simple_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def validations(monkeypatch):
    """Counts the validations of update_task and runs `meanwhile` (a callable) right after the first one."""
    original = task_services._cleaned_update
    state = {"count": 0, "meanwhile": None}

    def counting(*args, **kwargs):
        state["count"] += 1
        result = original(*args, **kwargs)
        meanwhile, state["meanwhile"] = state["meanwhile"], None
        if meanwhile:
            meanwhile()  # an edit made here counts too: the count is taken before it
        return result

    monkeypatch.setattr(task_services, "_cleaned_update", counting)
    return state


def create(task_id, **fields):
    return task_services.create_task(simple_task(task_id, **fields), actor="ada", via="cli")


def test_an_edit_is_validated_once_when_another_task_is_edited_meanwhile(validations):
    task, other = create("t1"), create("t2")
    validations["meanwhile"] = lambda: task_services.update_task(other, {"task_desc": "other"}, actor="bob",
                                                                 via="api", partial=True)
    task_services.update_task(task, {"task_desc": "mine"}, actor="ada", via="api", partial=True)
    assert validations["count"] == 2  # the first edit's, then the other one's; not the first one's again
    assert Task.objects.get(task_id="t1").task_desc == "mine"


def test_an_edit_is_validated_again_when_a_task_it_names_is_deleted_meanwhile(validations):
    task, target = create("t1"), create("t2")
    validations["meanwhile"] = lambda: task_services.delete_task(target, actor="bob", via="api")
    with pytest.raises(TaskValidationError, match="not a known task"):
        task_services.update_task(task, {"task_dependencies": ["t2"]}, actor="ada", via="api", partial=True)
    assert validations["count"] == 2
    assert Task.objects.get(task_id="t1").task_dependencies == []


def test_an_edit_is_validated_again_when_its_task_changed_meanwhile(validations):
    task = create("t1")
    validations["meanwhile"] = lambda: Task.objects.filter(pk=task.pk).update(task_name="renamed meanwhile")
    task_services.update_task(task, {"task_desc": "mine"}, actor="ada", via="api", partial=True)
    assert validations["count"] == 2
    stored = Task.objects.get(task_id="t1")
    assert (stored.task_name, stored.task_desc) == ("renamed meanwhile", "mine")


def test_an_edit_that_keeps_its_dependencies_and_log_is_not_validated_again_when_another_task_names_it(validations):
    task, other = create("t1"), create("t2")
    validations["meanwhile"] = lambda: task_services.update_task(other, {"task_dependencies": ["t1"]}, actor="bob",
                                                                 via="api", partial=True)
    task_services.update_task(task, {"task_desc": "mine", "task_timeout": 30}, actor="ada", via="api", partial=True)
    assert validations["count"] == 2  # its own and the other edit's: the other tasks cannot change its answer
    assert Task.objects.get(task_id="t2").task_dependencies == ["t1"]
    assert Task.objects.get(task_id="t1").task_desc == "mine"


def test_an_edit_of_its_dependencies_is_refused_when_another_task_made_them_a_cycle_meanwhile(validations):
    task, other = create("t1"), create("t2")
    validations["meanwhile"] = lambda: task_services.update_task(other, {"task_dependencies": ["t1"]}, actor="bob",
                                                                 via="api", partial=True)
    with pytest.raises(TaskValidationError, match="cycle"):
        task_services.update_task(task, {"task_dependencies": ["t2"]}, actor="ada", via="api", partial=True)
    assert validations["count"] == 3
    assert Task.objects.get(task_id="t1").task_dependencies == []


def test_an_edit_of_its_log_is_refused_when_another_task_took_that_log_meanwhile(validations):
    task, other = create("t1"), create("t2")
    validations["meanwhile"] = lambda: task_services.update_task(other, {"task_log": "logs/shared.log"}, actor="bob",
                                                                 via="api", partial=True)
    with pytest.raises(TaskValidationError, match="log of task"):
        task_services.update_task(task, {"task_log": "logs/shared.log"}, actor="ada", via="api", partial=True)
    assert validations["count"] == 3
