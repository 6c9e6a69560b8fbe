"""The dependency graph (/graph), laid out on the server as SVG: tasks in columns by how deep their dependencies
go (a dependency is always left of the task that runs after it), each column ordered by its dependencies' places
to keep lines from crossing, each box coloured by the task's latest result; and, for a task that runs after others,
why it waits now ("waits for X: failed at 02:13"). No script, no CDN: the page is plain SVG with links."""
import zoneinfo
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from tasks_app.models import ExecutionStatus, Task

from . import status as statuses

NODE_W, NODE_H = 190, 46
GAP_X, GAP_Y = 80, 28
MARGIN = 16
MAX_NODES = 500  # beyond this a graph stops being readable; the page says how many were left out


@dataclass
class Node:
    task_id: str
    name: str
    enabled: bool
    last_status: str
    deps: list
    column: int = 0
    row: int = 0
    waits: str = ""  # why it waits now, or ""
    waits_for: str = ""  # the dependency it waits for
    dependents: list = field(default_factory=list)

    @property
    def x(self):
        return MARGIN + self.column * (NODE_W + GAP_X)

    @property
    def y(self):
        return MARGIN + self.row * (NODE_H + GAP_Y)

    @property
    def colour(self):
        return statuses.colour(self.last_status) if self.last_status else "#adb5bd"

    @property
    def text_colour(self):
        return "#212529" if self.last_status in ("timeout", "disabled", "") else "#ffffff"

    @property
    def status_word(self):
        return statuses.word(self.last_status) if self.last_status else _("never ran")

    @property
    def short_name(self):
        return self.task_id if len(self.task_id) <= 24 else self.task_id[:23] + "…"


@dataclass
class Edge:
    source: Node
    target: Node

    @property
    def path(self):
        """A curve from the right side of the dependency to the left side of the task that runs after it."""
        x1, y1 = self.source.x + NODE_W, self.source.y + NODE_H / 2
        x2, y2 = self.target.x - 6, self.target.y + NODE_H / 2
        middle = (x1 + x2) / 2
        return f"M{x1:.0f},{y1:.0f} C{middle:.0f},{y1:.0f} {middle:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"

    @property
    def waiting(self):
        return self.target.waits_for == self.source.task_id


@dataclass
class Graph:
    nodes: list
    edges: list
    width: int
    height: int
    left_out: int = 0
    missing: list = field(default_factory=list)  # dependencies named that are no task


def _columns(nodes: dict):
    """Column = the longest chain of dependencies below the task (dependencies form no cycle: the loader refuses
    one; a cycle stored before that rule is cut where it closes). Walked with a stack of its own, not by recursion:
    a chain of MAX_NODES tasks would pass Python's recursion limit."""
    depth = {}
    for root in nodes:
        if root in depth:
            continue
        path, on_path = [(root, iter(nodes[root].deps))], {root}
        while path:
            task_id, pending = path[-1]
            for dep in pending:
                if dep in nodes and dep not in depth and dep not in on_path:
                    path.append((dep, iter(nodes[dep].deps)))
                    on_path.add(dep)
                    break
            else:  # every dependency placed (or cut where a cycle closes: it counts as depth 0)
                path.pop()
                on_path.discard(task_id)
                depth[task_id] = max((depth.get(dep, 0) + 1 for dep in nodes[task_id].deps if dep in nodes),
                                     default=0)
    for task_id, node in nodes.items():
        node.column = depth[task_id]


def _rows(nodes: dict):
    """Within a column, order by the mean row of the dependencies (the barycentre rule), then by id."""
    by_column = {}
    for node in nodes.values():
        by_column.setdefault(node.column, []).append(node)
    for column in sorted(by_column):
        def weight(node):
            rows = [nodes[d].row for d in node.deps if d in nodes]
            return (sum(rows) / len(rows) if rows else -1, node.task_id)

        for row, node in enumerate(sorted(by_column[column], key=weight)):
            node.row = row


def _moment(value, zone_name):
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    return value.astimezone(zone).strftime("%m-%d %H:%M") if value else ""


def why_it_waits(node: Node, known: set, rows: dict, zone_name: str) -> tuple[str, str]:
    """(dependency, why) a task with dependencies would not run now: the first dependency that is not done, as
    the engine's dependency rule judges it (no such task, running, never ran, last run not a success), or
    ("", "")."""
    for dep in node.deps:
        if dep not in known:
            return dep, _("waits for %(task)s: no such task") % {"task": dep}
        dep_status = rows.get(dep)
        if dep_status is None or (not dep_status.last_status and not dep_status.running):
            return dep, _("waits for %(task)s: it has not run yet") % {"task": dep}
        if dep_status.running:
            return dep, _("waits for %(task)s: running since %(time)s") % {
                "task": dep, "time": _moment(dep_status.last_start_time, zone_name)}
        if dep_status.last_status != ExecutionStatus.SUCCESS:
            return dep, _("waits for %(task)s: %(status)s at %(time)s") % {
                "task": dep, "status": str(statuses.word(dep_status.last_status)).lower(),
                "time": _moment(dep_status.last_end_time, zone_name)}
    return "", ""


def build(show_all=False, tag=None) -> Graph:
    """The graph of the tasks that have dependencies or are one (every task with show_all); with a tag, the tasks
    that have it and the tasks they run after (so that every arrow has its start)."""
    tasks = list(Task.objects.select_related("status").order_by("task_id")
                 .only("task_id", "task_name", "task_enabled", "task_dependencies", "task_timezone",
                       "status__last_status", "status__running", "status__last_start_time", "status__last_end_time"))
    named = {str(d) for t in tasks for d in (t.task_dependencies or [])}
    if not show_all:
        tasks = [t for t in tasks if t.task_dependencies or t.task_id in named]
    if tag:
        tagged = set(Task.objects.tagged(tag).values_list("task_id", flat=True))
        wanted = tagged | {str(d) for t in tasks if t.task_id in tagged for d in (t.task_dependencies or [])}
        tasks = [t for t in tasks if t.task_id in wanted]
    known = {t.task_id for t in tasks}  # every task named as a dependency is among them
    rows = {t.task_id: t.current_status for t in tasks}
    left_out = max(0, len(tasks) - MAX_NODES)
    tasks = tasks[:MAX_NODES]
    nodes = {}
    for task in tasks:
        row = rows[task.task_id]
        last = "running" if row is not None and row.running else (row.last_status if row is not None else "")
        nodes[task.task_id] = Node(task.task_id, task.task_name, task.task_enabled, last,
                                   [str(d) for d in task.task_dependencies or []])
    _columns(nodes)
    _rows(nodes)
    zones = {t.task_id: t.timezone_name for t in tasks}
    edges, missing = [], set()
    for node in nodes.values():
        if node.deps:
            node.waits_for, node.waits = why_it_waits(node, known, rows, zones[node.task_id])
        for dep in node.deps:
            if dep in nodes:
                edges.append(Edge(nodes[dep], node))
                nodes[dep].dependents.append(node.task_id)
            else:
                missing.add(dep)
    ordered = sorted(nodes.values(), key=lambda n: (n.column, n.row))
    columns = max((n.column for n in ordered), default=0) + 1
    height_rows = max((n.row for n in ordered), default=0) + 1
    return Graph(ordered, edges, width=2 * MARGIN + columns * NODE_W + (columns - 1) * GAP_X,
                 height=2 * MARGIN + height_rows * NODE_H + (height_rows - 1) * GAP_Y + 14,
                 left_out=left_out, missing=sorted(missing))
