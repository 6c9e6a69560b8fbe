"""task_tags: the rule (lowercase words, each once), the form's box, the file, and the tag filter of the list page
and the API with the list's tag cloud."""
import json

import pytest
from django.conf import settings

from tasks_app.definition.loader import TaskLoader, TaskValidationError
from tasks_app.models import Task
from tests.api.conftest import simple_task
from tests.web.conftest import form_data

pytestmark = pytest.mark.django_db


def clean_tags(value):
    return TaskLoader().rule_for("task_tags")(value)


def test_tags_are_lowercased_trimmed_and_kept_once_in_the_order_given():
    assert clean_tags(["Nightly", " billing ", "nightly", "db-2", "a_b"]) == ["nightly", "billing", "db-2", "a_b"]


@pytest.mark.parametrize("value, says", [
    ("nightly", "task_tags must be a list of tags"),
    (["has space"], 'task_tags item "has space" is not a tag'),
    (["-dash-first"], 'task_tags item "-dash-first" is not a tag'),
    (["x" * 33], "is not a tag"),
    (["报表"], 'task_tags item "报表" is not a tag'),
    ([3], "task_tags item 3 must be text, got an integer"),
    ([f"t{i}" for i in range(21)], "task_tags has 21 tags; at most 20"),
])
def test_a_bad_tag_is_refused_with_a_message_naming_the_field_and_the_value(value, says):
    with pytest.raises(Exception) as caught:
        clean_tags(value)
    assert says in " ".join(caught.value.messages)


def test_the_form_takes_tags_separated_by_commas_or_spaces_and_shows_them_back(as_operator):
    response = as_operator.post("/tasks/new", form_data(task_tags="Nightly, billing  reports"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Task.objects.get(task_id="nightly").task_tags == ["nightly", "billing", "reports"]
    page = as_operator.get("/tasks/nightly/edit").content.decode()
    assert 'value="nightly, billing, reports"' in page
    assert 'id="task-tags"' in as_operator.get("/tasks/nightly/view").content.decode()


def test_the_form_names_a_bad_tag_next_to_the_field(as_operator):
    response = as_operator.post("/tasks/new", form_data(task_tags="ok, bad!tag"))
    assert response.status_code == 400
    assert "task_tags item &quot;bad!tag&quot; is not a tag" in response.content.decode()
    assert not Task.objects.exists()


def test_conf_tasks_json_holds_the_tags_of_a_task_that_has_some(make_task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_task("tagged", task_tags=["nightly"])
        make_task("plain")
    written = {t["task_id"]: t for t in json.loads((settings.CONF_DIR / "tasks.json").read_text())["tasks"]}
    assert written["tagged"]["task_tags"] == ["nightly"] and "task_tags" not in written["plain"]


def test_the_list_filters_by_tag_and_shows_the_tag_cloud(as_viewer, make_task):
    make_task("a", task_tags=["nightly", "billing"])
    make_task("b", task_tags=["nightly"])
    make_task("c")
    response = as_viewer.get("/?tag=nightly")
    assert [t.task_id for t in response.context["tasks"]] == ["a", "b"]
    assert response.context["cloud"] == [("billing", 1), ("nightly", 2)]
    html = response.content.decode()
    assert 'data-tag="nightly"' in html and 'data-tag="billing"' in html
    assert [t.task_id for t in as_viewer.get("/?tag=Billing").context["tasks"]] == ["a"]


def test_tasks_that_share_a_list_of_tags_each_count_in_the_cloud(make_task):
    from tasks_app.web.queries import tag_cloud

    for task_id in ("a", "b", "c"):  # the same list three times: decoded once, counted three times
        make_task(task_id, task_tags=["nightly", "billing"])
    make_task("d", task_tags=["nightly"])
    make_task("e")
    assert tag_cloud() == [("billing", 3), ("nightly", 4)]


def test_a_bad_tag_filter_is_named_on_the_list_page_not_a_500(as_viewer, make_task):
    make_task("a", task_tags=["nightly"])
    response = as_viewer.get("/?tag=no%20such!")
    assert response.status_code == 200
    assert "tag &#x27;no such!&#x27; is not a tag" in response.content.decode()


def test_the_api_filters_tasks_by_tag_and_refuses_a_bad_one(client_as, make_task):
    make_task("a", task_tags=["nightly"])
    make_task("b", task_tags=["nightly-extra"])
    body = client_as("viewer").get("/api/tasks?tag=nightly").json()
    assert [t["task_id"] for t in body["results"]] == ["a"]
    assert body["results"][0]["task_tags"] == ["nightly"]
    bad = client_as("viewer").get("/api/tasks?tag=a%20b")
    assert bad.status_code == 400 and "tag 'a b' is not a tag" in json.dumps(bad.json())


def test_the_api_creates_a_task_with_tags_and_refuses_bad_ones_by_name(client_as):
    client = client_as("operator")
    created = client.post("/api/tasks", simple_task("t1", task_tags=["Ops", "ops"]), format="json")
    assert created.status_code == 201 and created.json()["task_tags"] == ["ops"]
    refused = client.post("/api/tasks", simple_task("t2", task_tags=["no way"]), format="json")
    assert refused.status_code == 400
    assert 'task_tags item \\"no way\\" is not a tag' in json.dumps(refused.json())


def test_the_tag_filters_count_and_the_tag_cloud_read_an_index_of_the_tags_not_the_table():
    """Both read task_tags alone: the index on it is scanned instead of every row (which holds the whole task)."""
    from django.db import connection
    from django.db.models import TextField
    from django.db.models.functions import Cast

    for n in range(30):
        Task.objects.create(task_id=f"t{n}", task_name="t", task_exec="ok.py", task_desc="x" * 500,
                            task_tags=["etl", "nightly"] if n % 3 else ["billing"])
    counted = Task.objects.tagged("etl").order_by()
    cloud = Task.objects.exclude(task_tags=[]).annotate(text=Cast("task_tags", TextField())).values_list(
        "text", flat=True).order_by()  # as web.queries.tag_cloud
    assert counted.count() == 20
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # 30 rows: the planner would rightly scan the table
        for query in (counted.values("pk").query, cloud.query):
            sql, params = query.sql_with_params()
            sql = sql.replace('SELECT "tasks_app_task"."id"', "SELECT COUNT(*)", 1)  # as count() asks
            cursor.execute(("EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ") + sql, params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            # PostgreSQL reads the index only once the table is vacuumed (its visibility map), through a bitmap before.
            assert any(words in plan for words in ("USING COVERING INDEX task_tags", "Index Only Scan using task_tags",
                                                   "Bitmap Index Scan on task_tags")), plan
