"""The Prometheus collector behind /metrics: every figure read from the database at each scrape (aggregate queries
on indexed columns, and the running totals of tally.py), so any web node answers the same and the counters match
the executions table. docs/metrics.md describes each metric."""
from django.conf import settings
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from tasks_app.models import (TASK_STATES, ExecutionStatus, ExecutionTally, Incident, IncidentKind, IncidentTally,
                              Task, TaskExecution, Worker)
from tasks_app.models.tally import DURATION_BUCKETS, LATENESS_BUCKETS, empty_buckets

from . import tally
from .schedulers import schedulers_seen
from .tally import add_buckets

# METRICS_PER_TASK=auto: a task_id label on the per-task series up to this many tasks; above, one series per
# status (each task is 6 counters and 18 histogram lines: 10,000 tasks would make a quarter of a million lines).
PER_TASK_UP_TO = 1000


def per_task(task_count: int) -> bool:
    choice = settings.METRICS_PER_TASK
    return choice == "on" or (choice == "auto" and task_count <= PER_TASK_UP_TO)


class SchedulerCollector:
    """collect() folds what ended since the last scrape into the totals, then yields every metric family, each
    series present (at zero) from the start."""

    def collect(self):
        tally.fold()
        states = {state: Task.objects.in_state(state).count() for state in TASK_STATES}
        by_task = per_task(sum(states.values()))
        yield from self._runs(by_task)
        yield from self._now(states)
        yield from self._schedulers()
        yield from self._incidents()

    def _runs(self, by_task):
        labels = ["task_id"] if by_task else []
        names = dict(Task.objects.values_list("pk", "task_id")) if by_task else {None: None}
        counts = {}
        durations, lateness = {}, [0.0, empty_buckets(LATENESS_BUCKETS)]
        rows = ExecutionTally.objects.values_list("task_id", "status", "count", "duration_sum", "duration_buckets",
                                                  "lateness_sum", "lateness_buckets")
        if not by_task:
            rows = rows.filter(task__isnull=True)
        for task, status, count, spent_sum, spent_buckets, late_sum, late_buckets in rows.iterator(2000):
            if task is None:  # every task together: what a deleted task counted stays in it
                lateness[0] += late_sum
                lateness[1] = add_buckets(lateness[1], late_buckets)
                if by_task:
                    continue
            elif task not in names:  # a task created or deleted between the two reads
                continue
            counts[(task, status)] = counts.get((task, status), 0) + count
            spent = durations.setdefault(task, [0.0, empty_buckets(DURATION_BUCKETS)])
            spent[0] += spent_sum
            spent[1] = add_buckets(spent[1], spent_buckets)

        total = CounterMetricFamily("scheduler_executions", "Runs that ended, by status (and task).",
                                    labels=labels + ["status"])
        took = HistogramMetricFamily("scheduler_execution_duration_seconds",
                                     "How long runs that ran took, from start to end (by task).", labels=labels)
        for task, task_id in sorted(names.items(), key=lambda item: item[1] or ""):
            head = [task_id] if by_task else []
            for status in ExecutionStatus.finished():
                total.add_metric(head + [status.value], counts.get((task, status.value), 0))
            spent_sum, spent = durations.get(task, (0.0, empty_buckets(DURATION_BUCKETS)))
            took.add_metric(head, _cumulative(DURATION_BUCKETS, spent), spent_sum)
        late = HistogramMetricFamily("scheduler_fire_lateness_seconds",
                                     "Seconds from a scheduled run's cron slot to its start, observed when it ends.")
        late.add_metric([], _cumulative(LATENESS_BUCKETS, lateness[1]), lateness[0])
        return [total, took, late]

    def _now(self, states):
        active = dict(TaskExecution.objects.filter(status__in=ExecutionStatus.active()).order_by()
                      .values_list("status").annotate(n=Count("pk")))
        yield GaugeMetricFamily("scheduler_running_executions", "Runs running now.",
                                value=active.get(ExecutionStatus.RUNNING.value, 0))
        yield GaugeMetricFamily("scheduler_queued_executions",
                                "Runs waiting to start: run now, retries, runs held behind another, runs in a queue.",
                                value=active.get(ExecutionStatus.QUEUED.value, 0))
        yield GaugeMetricFamily("scheduler_workers_alive", "Celery workers whose heartbeat is fresh.",
                                value=Worker.objects.alive().count())
        tasks = GaugeMetricFamily("scheduler_tasks", "Tasks by state: running, idle (enabled) or disabled.",
                                  labels=["state"])
        for state in TASK_STATES:
            tasks.add_metric([state], states[state])
        yield tasks

    def _schedulers(self):
        seen = schedulers_seen()
        leader = GaugeMetricFamily("scheduler_is_leader", "1 for the scheduler that leads (fires the schedules).",
                                   labels=["scheduler"])
        beat = GaugeMetricFamily("scheduler_last_heartbeat_timestamp_seconds",
                                 "When the scheduler last renewed its lease, its heartbeat (Unix time).",
                                 labels=["scheduler"])
        for one in seen:
            leader.add_metric([one.name], 1 if one.leading else 0)
            beat.add_metric([one.name], one.last_heartbeat.timestamp())
        yield leader
        yield beat
        yield GaugeMetricFamily("scheduler_leaders", "Schedulers leading now: 1 when all is well, 0 when none.",
                                value=sum(1 for one in seen if one.leading))

    def _incidents(self):
        opened = dict(IncidentTally.objects.values_list("kind", "count"))
        still = dict(Incident.objects.filter(resolved_at__isnull=True).order_by().values_list("kind")
                     .annotate(n=Count("pk")))
        total = CounterMetricFamily("scheduler_incidents", "Incidents opened (a missed run, an overrun, the "
                                    "scheduler down), each alerted per the task's rules.", labels=["kind"])
        now_open = GaugeMetricFamily("scheduler_open_incidents", "Incidents open now.", labels=["kind"])
        for kind in IncidentKind.values:
            total.add_metric([kind], opened.get(kind, 0))
            now_open.add_metric([kind], still.get(kind, 0))
        yield total
        yield now_open


def _cumulative(bounds, counts) -> list:
    """Per-bucket counts -> Prometheus's cumulative (le, count) pairs, ending with +Inf."""
    pairs, running = [], 0
    for index, bound in enumerate(list(bounds) + [float("inf")]):
        running += counts[index] if index < len(counts) else 0
        pairs.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    return pairs
