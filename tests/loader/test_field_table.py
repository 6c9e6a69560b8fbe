"""The field table (definition/fields.py) is the one declaration of a task's fields: the model, the loader, the
API, the form, the admin and conf/tasks.json all agree with it."""
import pytest
from django import forms
from django.contrib.admin.sites import site as admin_site
from django.db.models import NOT_PROVIDED

from tasks_app.api.serializers import TaskSerializer
from tasks_app.conffile.render import render_task
from tasks_app.definition import fields as table
from tasks_app.definition.loader import TaskLoader
from tasks_app.models import Task
from tasks_app.web import typeform
from tasks_app.web.forms import TaskForm


def test_every_field_is_a_column_of_the_task_model_with_the_same_default_and_length():
    for field in table.FIELDS:
        column = Task._meta.get_field(field.name)
        if field.required:
            assert column.default is NOT_PROVIDED, field.name
        else:
            assert column.get_default() == field.default, field.name
        assert column.null == field.nullable, field.name
        if field.max_length:
            assert column.max_length == field.max_length, field.name
        if field.choices:
            assert column.choices == field.choices.choices, field.name


def test_every_field_has_a_rule_its_own_or_its_kinds():
    loader = TaskLoader()
    for field in table.FIELDS:
        assert callable(loader.rule_for(field.name)), field.name


def test_a_text_field_without_a_rule_of_its_own_is_checked_by_its_kind_with_the_tables_length():
    check = TaskLoader().rule_for("task_name")
    assert check("Nightly") == "Nightly"
    with pytest.raises(Exception, match="task_name is 201 characters long; at most 200"):
        check("x" * 201)
    with pytest.raises(Exception, match="task_name must not be blank"):
        check("  ")


def test_the_loader_fills_every_missing_field_with_the_tables_default(minimal, tasks_dir):
    cleaned = TaskLoader(tasks_dir).clean(minimal("t1"), existing={})
    assert list(cleaned) == list(table.TASK_FIELDS)
    for field in table.FIELDS:
        if not field.required and field.name not in minimal("t1"):
            expected = table.default_log_path("t1") if field.name == "task_log" else field.default
            assert cleaned[field.name] == expected, field.name


@pytest.mark.django_db
def test_the_api_the_admin_and_the_form_show_every_field():
    assert list(TaskSerializer().fields)[:len(table.FIELDS)] == list(table.TASK_FIELDS)
    admin = admin_site._registry[Task]
    shown = [name for _title, options in admin.get_fieldsets(None) for name in options["fields"]]
    assert sorted(shown) == sorted(table.TASK_FIELDS)
    on_page = set(TaskForm().fields)
    assert all(name in on_page for name in table.TASK_FIELDS if name not in ("task_notify", "task_options"))
    assert {"notify_on_success", "notify_on_failure", "notify_email", "notify_webhook"} <= on_page
    # task_options is a field per option of each type (web/typeform.py): the http type's url among them.
    assert typeform.field_name("http", "url") in on_page


@pytest.mark.django_db
def test_a_field_the_page_has_no_place_for_shows_in_the_advanced_part_after_the_dependencies():
    with_new_field = type(TaskForm)("WithNewField", (TaskForm,), {"task_new": forms.CharField(label="New")})
    form = with_new_field()
    placed = [pointer.name for pointer in form.helper.layout.get_field_names()]
    assert sorted(placed) == sorted(form.fields)
    assert placed.index("task_dependencies") < placed.index("task_new") < placed.index("notify_on_success")


def test_the_file_writes_the_additions_only_when_they_differ_from_their_default():
    task = {field.name: field.fresh_default() for field in table.FIELDS if not field.required}
    task.update(task_id="a", task_name="A", task_exec="tasks/a.py")
    written = render_task(task)
    assert list(written) == [f.name for f in table.FIELDS if f.in_file == table.ALWAYS]
    written = render_task({**task, "task_overlap": "queue"})
    assert written["task_overlap"] == "queue" and "task_timezone" not in written


def test_task_to_dict_reads_every_field_in_file_order(minimal, tasks_dir, db):
    from tasks_app.services.tasks import create_task

    task = create_task(minimal("t1", task_env={"A": "1"}), actor="t", via="cli")
    data = table.task_to_dict(task)
    assert list(data) == list(table.TASK_FIELDS)
    assert data["task_env"] == {"A": "1"} and data["task_log"] == "logs/task_t1.log"
