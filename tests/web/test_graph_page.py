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


def test_a_task_name_with_markup_is_drawn_as_text_in_the_svg(as_viewer, make_task):
    # The SVG is drawn on the server inside the page: a name must not close its <title> or open a script.
    make_task("first", task_schedule="0 2 * * *", task_name='</title><script>alert(1)</script><title x="')
    make_task("after", task_schedule="", task_dependencies=["first"], task_name="<img src=x onerror=alert(2)>")
    html = as_viewer.get("/graph").content.decode()
    assert 'data-task="first"' in html and 'data-task="after"' in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_tag_narrows_the_graph_to_its_tasks_and_what_they_run_after(as_viewer, make_task):
    make_task("extract", task_schedule="0 2 * * *")
    make_task("load", task_schedule="", task_dependencies=["extract"], task_tags=["billing"])
    make_task("fetch", task_schedule="0 3 * * *")
    make_task("report", task_schedule="", task_dependencies=["fetch"], task_tags=["sales"])
    assert {node.task_id for node in graph.build(tag="billing").nodes} == {"extract", "load"}
    html = as_viewer.get("/graph?tag=billing").content.decode()
    assert 'data-task="load"' in html and 'data-task="extract"' in html and 'data-task="report"' not in html
    assert 'data-tag="sales"' in html  # the tag cloud offers the others
    bad = as_viewer.get("/graph?tag=bad%20tag")
    assert bad.status_code == 200 and 'id="tag-error"' in bad.content.decode()
    assert 'data-task="report"' in bad.content.decode()  # a bad tag filters nothing


def test_a_long_chain_of_dependencies_is_laid_out_without_running_out_of_stack(as_viewer):
    # 500 tasks each running after the next one by id: laid out recursively, the first box to place went 500 calls
    # deep (two frames each) and the page was a 500.
    from tasks_app.models import Task

    count = graph.MAX_NODES
    Task.objects.bulk_create([Task(task_id=f"t{i:04d}", task_name=str(i), task_exec="tasks/test_task.py",
                                   task_schedule="0 2 * * *" if i == count - 1 else "",
                                   task_dependencies=[f"t{i + 1:04d}"] if i < count - 1 else [])
                              for i in range(count)])
    assert as_viewer.get("/graph").status_code == 200
    place = {node.task_id: node.column for node in graph.build().nodes}
    assert place["t0000"] == count - 1 and place[f"t{count - 1:04d}"] == 0
