"""Daily history pruning: keep the newest HISTORY_KEEP_PER_TASK executions of each task, drop finished ones
older than HISTORY_MAX_AGE_DAYS, delete their captured output, prune django-apscheduler's DjangoJobExecution table
and the audit trail older than AUDIT_KEEP_DAYS. Deletes go in small batches, so the scheduler's own writes are
never held up long."""
import logging
import shutil
import threading
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from tasks_app.audit.retention import prune_audit
from tasks_app.metrics.tally import fold
from tasks_app.models import ExecutionLogChunk, ExecutionStatus, LogStream, Task, TaskExecution, Worker

log = logging.getLogger("SchedulerEngine")

BATCH = 500
HOUSEKEEPING_JOB_ID = "engine.housekeeping"
HOUSEKEEPING_SCHEDULE = "17 3 * * *"  # daily, in settings.TIME_ZONE, away from the popular full hours


def prune_history(now=None, keep=None, max_age_days=None) -> dict:
    """Returns {"by_count": n, "by_age": n, "job_executions": n, "output_dirs": n, "audit_entries": n,
    "workers": n}."""
    now = now or timezone.now()
    keep = keep or settings.HISTORY_KEEP_PER_TASK
    max_age_days = max_age_days or settings.HISTORY_MAX_AGE_DAYS
    # /metrics' totals count each run once: the runs not counted yet are counted first, and kept until they are.
    fold(at_most=10 ** 9)
    finished = TaskExecution.objects.exclude(status__in=ExecutionStatus.active()).filter(tallied=True)

    by_count = 0
    crowded = (TaskExecution.objects.order_by().values("task_id").annotate(n=Count("pk"))
               .filter(n__gt=keep).values_list("task_id", flat=True))
    for task_pk in list(crowded):
        # The newest `keep` stay, whatever their status; only finished ones older than those go.
        oldest_kept = (TaskExecution.objects.filter(task_id=task_pk).order_by("-execution_id")
                       .values_list("execution_id", flat=True)[keep - 1:keep].first())
        if oldest_kept is not None:
            by_count += _delete(finished.filter(task_id=task_pk, execution_id__lt=oldest_kept))

    cutoff = now - timedelta(days=max_age_days)
    by_age = _delete(finished.filter(queued_at__lt=cutoff))

    job_executions = DjangoJobExecution.objects.filter(
        run_time__lt=now - timedelta(days=max_age_days)).count()
    DjangoJobExecution.objects.delete_old_job_executions(int(timedelta(days=max_age_days).total_seconds()))

    output_dirs = _remove_orphan_output_dirs()
    # Shipped output whose run was deleted some other way (the admin): its run's id was set to null.
    ExecutionLogChunk.objects.filter(execution__isnull=True, stream=LogStream.OUTPUT).delete()
    # A Celery worker makes a record per start: the records of workers gone for as long as the history is kept go.
    workers, _ = Worker.objects.not_alive().filter(last_heartbeat__lt=cutoff).delete()
    result = {"by_count": by_count, "by_age": by_age, "job_executions": job_executions, "output_dirs": output_dirs,
              "audit_entries": prune_audit(now), "workers": workers}
    log.info("Housekeeping: removed %(by_count)s execution(s) past the per-task limit, %(by_age)s older than "
             "the age limit, %(job_executions)s job execution record(s), %(output_dirs)s output folder(s) "
             "of deleted tasks, %(audit_entries)s audit entries older than AUDIT_KEEP_DAYS, %(workers)s record(s) "
             "of workers gone", result)
    return result


def _delete(queryset) -> int:
    total = 0
    while True:
        batch = list(queryset.order_by("execution_id").values_list("execution_id", "task_id")[:BATCH])
        if not batch:
            return total
        pks = [pk for pk, _ in batch]
        # A run's shipped output goes with it, as its file does (its log lines stay in the task's central log).
        ExecutionLogChunk.objects.filter(execution_id__in=pks, stream=LogStream.OUTPUT).delete()
        TaskExecution.objects.filter(pk__in=pks).delete()
        for pk, task_pk in batch:
            path = TaskExecution(execution_id=pk, task_id=task_pk).output_path
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Could not delete %s: %s", path, exc)
        total += len(batch)


def _remove_orphan_output_dirs() -> int:
    root = settings.EXECUTION_OUTPUT_DIR
    if not root.is_dir():
        return 0
    known = {str(pk) for pk in Task.objects.values_list("pk", flat=True)}
    removed = 0
    for folder in root.iterdir():
        if (folder.is_dir() and folder.name.isdigit() and folder.name not in known
                and not Task.objects.filter(pk=int(folder.name)).exists()):  # created since `known` was read
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def run_in_background(scheduler, job_id, run_time) -> threading.Thread:
    """Prune in a thread of its own (its small batches interleave with the scheduler's writes), then tell
    APScheduler how it went: django-apscheduler records that as a DjangoJobExecution."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

    def work():
        try:
            result = prune_history()
            event = JobExecutionEvent(EVENT_JOB_EXECUTED, job_id, "default", run_time, retval=result)
        except Exception as exc:
            log.exception("Housekeeping failed")
            event = JobExecutionEvent(EVENT_JOB_ERROR, job_id, "default", run_time, exception=exc,
                                      traceback=traceback.format_exc())
        try:
            scheduler._dispatch_event(event)
        finally:
            connection.close()

    thread = threading.Thread(target=work, name="housekeeping", daemon=True)
    thread.start()
    return thread
