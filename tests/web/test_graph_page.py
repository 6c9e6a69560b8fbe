"""The dependency graph: tasks and their dependencies as SVG laid out on the server (a dependency left of the task
that runs after it), coloured by each task's latest result, each box a link to its task, and why a task waits."""
import re
from datetime import datetime, timezone

from tasks_app.models import TaskStatus
from tasks_app.web import graph


def test_the_graph_places_dependencies_left_and_says_why_a_task_waits(as_viewer, make_task):
    make_task("extract", task_schedule="0 2 * * *", task_timezone="Asia/Shanghai")
    make_task("transform", task_schedule="", task_dependencies=["extract"], task_timezone="Asia/Shanghai")
    make_task("report", task_schedule="", task_dependencies=["transform", "extract"], task_timezone="Asia/Shanghai")
    make_task("alone", task_schedule="0 3 * * *")
    TaskStatus.objects.filter(task__task_id="extract").update(
        last_status="failed", last_end_time=datetime(2025, 10, 9, 18, 13, tzinfo=timezone.utc))
    TaskStatus.objects.filter(task__task_id="transform").update(last_status="success")
    built = graph.build()
    place = {node.task_id: node.column for node in built.nodes}
    assert place == {"extract": 0, "transform": 1, "report": 2}  # "alone" has no dependency: left out
    waits = {node.task_id: node.waits for node in built.nodes}
    assert waits["transform"] == "waits for extract: failed at 10-10 02:13"
    assert waits["report"] == "waits for extract: failed at 10-10 02:13"  # transform succeeded
    html = as_viewer.get("/graph").content.decode()
    assert re.search(r'<a href="/tasks/extract/view" class="graph-node" data-task="extract" data-status="failed">', html)
    assert 'class="graph-edge waiting" data-from="extract" data-to="transform"' in html
    assert "transform</a> waits for extract: failed at 10-10 02:13" in html
    assert 'data-task="alone"' not in html
    assert 'data-task="alone"' in as_viewer.get("/graph?all=1").content.decode()


def test_a_dependency_that_never_ran_or_runs_now_is_named(make_task):
    make_task("first", task_schedule="0 2 * * *")
    make_task("second", task_schedule="0 2 * * *")
    make_task("after", task_schedule="", task_dependencies=["first"])
    make_task("later", task_schedule="", task_dependencies=["second"])
    TaskStatus.objects.filter(task__task_id="second").update(
        running=True, last_start_time=datetime(2025, 10, 9, 18, 0, tzinfo=timezone.utc))
    waits = {node.task_id: node.waits for node in graph.build().nodes}
    assert waits["after"] == "waits for first: it has not run yet"
    assert waits["later"].startswith("waits for second: running since ")


def test_the_graph_needs_a_login(client):
    assert client.get("/graph").status_code == 302
