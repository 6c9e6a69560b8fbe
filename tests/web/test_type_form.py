"""The task form's type select and option fields: an http task is made with its options from their own fields,
errors about an option land next to it, and an existing task's options are shown back."""
from tasks_app.models import Task
from tests.web.conftest import form_data


def test_the_form_offers_the_installed_types_and_each_types_option_fields(as_operator):
    html = as_operator.get("/tasks/new").content.decode()
    for value in ('value="python"', 'value="shell"', 'value="http"', 'name="opt_http__url"',
                  'name="opt_http__method"', 'data-task-type="http"'):
        assert value in html, value


def test_an_http_task_is_made_from_its_option_fields(as_operator, settings):
    response = as_operator.post("/tasks/new", form_data(
        task_id="pinger", task_type="http", task_exec="", opt_http__url="https://example.com/ping",
        opt_http__method="POST", opt_http__headers='{"X-Team": "ops"}', opt_http__body="hi",
        opt_http__expected_statuses="200, 204", opt_shell__ignored="x"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    task = Task.objects.get(task_id="pinger")
    assert (task.task_type, task.task_exec) == ("http", "")
    assert task.task_options == {"method": "POST", "url": "https://example.com/ping", "headers": {"X-Team": "ops"},
                                 "body": "hi", "expected_statuses": [200, 204]}
    html = as_operator.get("/tasks/pinger/edit").content.decode()
    assert 'value="https://example.com/ping"' in html and 'value="200, 204"' in html
    page = as_operator.get("/tasks/pinger/view").content.decode()
    assert "https://example.com/ping" in page.split('id="task-type"', 1)[1].split("</dd>", 1)[0]


def test_an_options_error_is_shown_next_to_its_field(as_operator):
    response = as_operator.post("/tasks/new", form_data(task_id="bad", task_type="http", task_exec="",
                                                        opt_http__url="ftp://example.com/x"))
    assert response.status_code == 400
    html = response.content.decode()
    field = html.split('id="div_id_opt_http__url"', 1)[1].split('id="div_id_opt_http__headers"', 1)[0]
    assert "must be an http:// or https:// URL with a host" in field
    response = as_operator.post("/tasks/new", form_data(task_id="bad", task_type="http"))
    assert "task_exec must be empty for a task of type http" in response.content.decode()


def test_the_types_and_their_fields_are_in_chinese_on_a_chinese_page(as_operator):
    html = as_operator.get("/tasks/new", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for words in ("http — HTTP 请求", "shell — 可执行文件（shell 脚本，按其 #! 行运行）", "期望的状态码", "请求头"):
        assert words in html, words
