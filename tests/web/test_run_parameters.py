"""Run now with parameters on the task page: only for a task that allows them; NAME=value lines become the
run's one-off values; a refused name or a line without '=' is named and starts nothing."""
from tasks_app.models import TaskExecution


def test_the_parameters_form_shows_only_for_a_task_that_allows_them(as_operator, make_task):
    make_task("fixed")
    make_task("open", task_allow_overrides=True)
    assert 'id="run-with-parameters"' not in as_operator.get("/tasks/fixed/view").content.decode()
    html = as_operator.get("/tasks/open/view").content.decode()
    assert 'id="run-with-parameters"' in html
    assert html.split('id="task-allow-overrides">', 1)[1].startswith("yes")


def test_an_operator_runs_a_task_with_parameters(as_operator, make_task):
    make_task("open", task_allow_overrides=True)
    response = as_operator.post("/tasks/open/run", {"env": "DAY=2024-01-31\n\nNOTE=a=b\n"})
    assert response.status_code == 302
    execution = TaskExecution.objects.get()
    assert execution.env_overrides == {"DAY": "2024-01-31", "NOTE": "a=b"}
    html = as_operator.get(response["Location"]).content.decode()
    assert "Parameters given for this run" in html and "2024-01-31" in html


def test_bad_parameters_are_named_and_start_nothing(as_operator, make_task):
    make_task("open", task_allow_overrides=True)
    make_task("fixed")
    html = as_operator.post("/tasks/open/run", {"env": "DAY"}, follow=True).content.decode()
    assert "Parameters: line 1 (DAY) is not NAME=value." in html
    html = as_operator.post("/tasks/open/run", {"env": "LD_PRELOAD=/tmp/x.so"}, follow=True).content.decode()
    assert "env name &quot;LD_PRELOAD&quot; is refused" in html
    html = as_operator.post("/tasks/fixed/run", {"env": "DAY=1"}, follow=True).content.decode()
    assert "Task fixed does not allow parameters at run time" in html
    answer = as_operator.post("/tasks/fixed/run", {"env": "DAY=1"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 400 and answer.json()["field"] == "env"
    assert not TaskExecution.objects.exists()
    assert as_operator.post("/tasks/fixed/run").status_code == 302  # no parameters: runs as always


def test_the_task_form_saves_task_allow_overrides(as_operator, make_task):
    from tests.web.conftest import form_data

    response = as_operator.post("/tasks/new", form_data(task_id="formed", task_allow_overrides="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    from tasks_app.models import Task

    assert Task.objects.get(task_id="formed").task_allow_overrides is True
