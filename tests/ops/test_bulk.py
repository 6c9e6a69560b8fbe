"""Bulk actions through the service, POST /api/bulk and the task list's form: one outcome and one audit entry per
task, refusals shown per task, delete for admins only, "all matching" a filter, and a marker bump the scheduler sees."""
import pytest
from auditlog.models import LogEntry

from tasks_app.models import ConfigVersion, Task, TaskExecution, TaskStatus
from tasks_app.services import bulk

pytestmark = pytest.mark.django_db


def events(event):
    return sorted(e.object_pk for e in LogEntry.objects.all() if e.additional_data.get("event") == event)


def test_a_bulk_disable_writes_one_audit_entry_per_task_changed_and_says_which_were_unchanged(make_task):
    make_task("a")
    make_task("b")
    make_task("off", task_enabled=False)
    version = ConfigVersion.current()
    outcomes = bulk.bulk_action("disable", ["a", "off", "b", "ghost"], actor="otto", via="api")
    assert [(o.task_id, o.result) for o in outcomes] == [
        ("a", "done"), ("off", "unchanged"), ("b", "done"), ("ghost", "not_found")]
    assert outcomes[1].message == "already disabled" and "ghost" in outcomes[3].message
    assert not Task.objects.filter(task_enabled=True).exists()
    assert events("task.disabled") == ["a", "b"]
    assert ConfigVersion.current() == version + 1
    assert TaskStatus.objects.get(task__task_id="a").next_run_time is None


def test_a_bulk_enable_stores_each_tasks_next_run(make_task):
    make_task("a", task_enabled=False)
    bulk.bulk_action("enable", ["a"], actor="otto", via="api")
    assert TaskStatus.objects.get(task__task_id="a").next_run_time is not None
    assert events("task.enabled") == ["a"]


def test_bulk_run_now_queues_one_manual_run_per_task_with_its_audit_entry(make_task):
    make_task("a")
    make_task("b", task_enabled=False)
    outcomes = bulk.bulk_action("run", ["a", "b"], actor="otto", via="web")
    runs = TaskExecution.objects.order_by("task__task_id")
    assert [(r.task.task_id, r.status, r.trigger, r.requested_by) for r in runs] == [
        ("a", "queued", "manual", "otto"), ("b", "queued", "manual", "otto")]
    assert {o.execution_id for o in outcomes} == {r.pk for r in runs}
    assert events("run.requested") == ["a", "b"]


def test_adding_and_removing_a_tag_is_a_new_version_of_each_task_changed(make_task):
    make_task("a", task_tags=["nightly"])
    make_task("b")
    added = bulk.bulk_action("add_tag", ["a", "b"], tag="Nightly", actor="otto", via="api")
    assert [(o.result, o.message) for o in added] == [("unchanged", "already has the tag nightly"), ("done", "")]
    assert Task.objects.get(task_id="b").task_tags == ["nightly"]
    removed = bulk.bulk_action("remove_tag", ["a", "b"], tag="nightly", actor="otto", via="api")
    assert [o.result for o in removed] == ["done", "done"]
    assert list(Task.objects.values_list("task_tags", flat=True)) == [[], []]
    assert events("task.updated") == ["a", "b", "b"]


def test_a_tag_the_task_has_no_room_for_is_refused_for_that_task_only(make_task):
    make_task("full", task_tags=[f"t{i}" for i in range(20)])
    make_task("room")
    outcomes = bulk.bulk_action("add_tag", ["full", "room"], tag="more", actor="otto", via="api")
    assert [o.result for o in outcomes] == ["refused", "done"]
    assert "at most 20" in outcomes[0].message


def test_a_bulk_delete_refuses_a_task_others_still_depend_on_and_deletes_tasks_that_depend_on_each_other(make_task):
    make_task("base")
    make_task("child", task_dependencies=["base"])
    make_task("shared")
    make_task("stays", task_dependencies=["shared"])
    outcomes = bulk.bulk_action("delete", ["base", "child", "shared"], actor="ada", via="api")
    assert [(o.task_id, o.result) for o in outcomes] == [("base", "done"), ("child", "done"), ("shared", "refused")]
    assert "stays depend(s) on it" in outcomes[2].message
    assert sorted(Task.objects.values_list("task_id", flat=True)) == ["shared", "stays"]
    assert events("task.deleted") == ["base", "child"]


@pytest.mark.parametrize("action, ids, tag, field", [
    ("explode", ["a"], None, "action"),
    ("enable", [], None, "task_ids"),
    ("enable", "a", None, "task_ids"),
    ("add_tag", ["a"], None, "tag"),
    ("add_tag", ["a"], "not a tag", "tag"),
])
def test_a_request_that_cannot_be_carried_out_names_the_field(action, ids, tag, field):
    with pytest.raises(bulk.BulkError) as caught:
        bulk.bulk_action(action, ids, tag=tag, actor="otto", via="api")
    assert caught.value.field == field


# ---- POST /api/bulk ------------------------------------------------------------------------------------------

def test_the_api_enables_tasks_by_id_with_a_result_per_task(client_as, make_task):
    make_task("a", task_enabled=False)
    make_task("b")
    response = client_as("operator").post("/api/bulk", {"action": "enable", "task_ids": ["a", "b", "zz"]},
                                          format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["counts"] == {"done": 1, "unchanged": 1, "refused": 0, "not_found": 1}
    assert [r["result"] for r in body["results"]] == ["done", "unchanged", "not_found"]


def test_the_api_acts_on_every_task_matching_a_filter(client_as, make_task):
    make_task("a", task_tags=["nightly"])
    make_task("b", task_tags=["nightly"])
    make_task("c")
    body = client_as("operator").post("/api/bulk", {"action": "disable", "filter": {"tag": "nightly"}},
                                      format="json").json()
    assert [r["task_id"] for r in body["results"]] == ["a", "b"]
    assert list(Task.objects.filter(task_enabled=True).values_list("task_id", flat=True)) == ["c"]


def test_a_bad_filter_is_a_400_naming_it(client_as, make_task):
    make_task("a")
    client = client_as("operator")
    bad_tag = client.post("/api/bulk", {"action": "disable", "filter": {"tag": "no way"}}, format="json")
    assert bad_tag.status_code == 400 and "tag" in bad_tag.json()
    unknown = client.post("/api/bulk", {"action": "disable", "filter": {"colour": "red"}}, format="json")
    assert unknown.status_code == 400 and "Unknown filter 'colour'" in unknown.json()["filter"][0]
    both = client.post("/api/bulk", {"action": "disable", "task_ids": ["a"], "filter": {}}, format="json")
    assert both.status_code == 400 and "either task_ids" in both.json()["task_ids"][0]
    not_json = client.post("/api/bulk", ["a"], format="json")
    assert not_json.status_code == 400


def test_a_viewer_may_not_use_bulk_actions_and_an_operator_may_not_bulk_delete(client_as, make_task):
    make_task("a")
    assert client_as("viewer").post("/api/bulk", {"action": "enable", "task_ids": ["a"]},
                                    format="json").status_code == 403
    refused = client_as("operator").post("/api/bulk", {"action": "delete", "task_ids": ["a"]}, format="json")
    assert refused.status_code == 403 and "needs the admin role" in refused.json()["detail"]
    assert Task.objects.filter(task_id="a").exists()
    deleted = client_as("admin").post("/api/bulk", {"action": "delete", "task_ids": ["a"]}, format="json")
    assert deleted.json()["counts"]["done"] == 1 and not Task.objects.exists()


# ---- the task list's form ------------------------------------------------------------------------------------

def test_the_list_offers_bulk_actions_to_operators_and_delete_to_admins_only(as_operator, make_task, client,
                                                                            admin_user, viewer):
    make_task("a")
    html = as_operator.get("/").content.decode()
    assert 'id="bulk-form"' in html and 'class="form-check-input bulk-select"' in html
    assert '<option value="run">' in html and '<option value="delete">' not in html
    client.force_login(admin_user)
    assert '<option value="delete">' in client.get("/").content.decode()
    client.force_login(viewer)
    assert 'id="bulk-form"' not in client.get("/").content.decode()


def test_the_form_runs_the_checked_tasks_and_shows_a_result_per_task(as_operator, make_task):
    make_task("a")
    make_task("b")
    response = as_operator.post("/tasks/bulk", {"action": "run", "task_ids": ["a", "b"], "next": "/?q=a"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulk-a" data-result="done"' in html and 'id="bulk-b" data-result="done"' in html
    assert TaskExecution.objects.count() == 2 and 'href="/?q=a"' in html


def test_select_all_matching_acts_on_every_task_the_filters_match(as_operator, make_task):
    for name in ("n1", "n2", "other"):
        make_task(name, task_tags=["nightly"] if name != "other" else [])
    response = as_operator.post("/tasks/bulk", {"action": "add_tag", "bulk_tag": "ops", "all_matching": "1",
                                                "tag": "nightly", "q": "n"})
    assert response.status_code == 200
    assert sorted(Task.objects.filter(task_tags__icontains='"ops"').values_list("task_id", flat=True)) == ["n1", "n2"]


def test_an_operator_posting_delete_by_hand_is_refused(as_operator, make_task):
    make_task("a")
    assert as_operator.post("/tasks/bulk", {"action": "delete", "task_ids": ["a"]}).status_code == 403
    assert Task.objects.exists()


def test_a_bad_bulk_request_comes_back_to_the_list_with_the_reason(as_operator, make_task):
    make_task("a")
    response = as_operator.post("/tasks/bulk", {"action": "add_tag", "bulk_tag": "bad tag!", "task_ids": ["a"]},
                                follow=True)
    assert "is not a tag" in response.content.decode()
