"""django-apscheduler's Django job store, with two changes that keep an execution within two commits:
after a fire the job's new next_run_time is written in the same transaction that claims the slot
(update_job is deferred while the engine processes due jobs), and DjangoJobExecution rows are kept
only for the engine's own jobs (housekeeping): each task run is already a TaskExecution. A third keeps
start-up with 50,000 tasks short: jobs added in a batch are written by one executemany (add_job is
otherwise a savepoint and an ORM INSERT each, half of the start-up's time). A fourth: a fire changes only the
job's next run time, so only that column is written then (pickling every fired job was a sixth of claiming a
burst); the column is the truth, and a job read back takes its next run time from it, not from its pickle. A
fifth: a due job read back with the pickle it was last read with is not unpickled again (_restore)."""
import pickle
from contextlib import contextmanager

from apscheduler import events
from apscheduler.job import Job
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import (
    get_apscheduler_datetime, get_django_internal_datetime, retry_on_db_operational_error,
)

ENGINE_JOB_PREFIX = "engine."  # task ids cannot contain "." (see models.task.TASK_ID_PATTERN)
# Jobs kept unpickled (_restore); past this many the memory is let go and they are unpickled afresh: 50,000 tasks
# due within a minute of each other must not hold a second copy of every job for the whole life of the process.
RESTORED_AT_MOST = 10_000
# Every slot of APScheduler's Job: a restored job is copied slot by slot (its own __getstate__/__setstate__ would
# cost what the cache saves, resolving its function by name again).
_JOB_SLOTS = tuple(name for name in Job.__slots__ if name != "__weakref__")


def _engine_jobs_only(handler):
    def listener(event):
        if str(event.job_id).startswith(ENGINE_JOB_PREFIX):
            handler(event)

    return listener


class EngineJobStore(DjangoJobStore):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deferring = False
        self.deferred = {}  # job id -> Job, written by write_deferred() inside the claim transaction
        self.batch = None  # job id -> Job added inside batched(), written at its end
        self._restored = {}  # pickled state -> Job unpickled from it (_restore)

    def register_event_listeners(self):
        scheduler = self._scheduler
        scheduler.add_listener(_engine_jobs_only(self.handle_submission_event),
                               events.EVENT_JOB_SUBMITTED | events.EVENT_JOB_MAX_INSTANCES)
        scheduler.add_listener(_engine_jobs_only(self.handle_execution_event), events.EVENT_JOB_EXECUTED)
        scheduler.add_listener(_engine_jobs_only(self.handle_error_event),
                               events.EVENT_JOB_ERROR | events.EVENT_JOB_MISSED)

    # Deferred updates.

    def begin_deferring(self):
        self._deferring = True
        self.deferred = {}

    def end_deferring(self):
        """Stop deferring; returns the deferred jobs (the caller writes or drops them)."""
        self._deferring = False
        deferred, self.deferred = self.deferred, {}
        return deferred

    def update_job(self, job):
        if self._deferring:
            self.deferred[job.id] = job
            return
        super().update_job(job)

    def write_deferred(self, jobs):
        """Inside the caller's transaction, one executemany for all fired jobs: their next run time only (the
        pickle, which also holds it, is rewritten when the job itself changes: update_job, add_job)."""
        from .batchwrites import update_rows

        update_rows(DjangoJob, [(job.id, {"next_run_time": get_django_internal_datetime(job.next_run_time)})
                                for job in jobs])

    # Reading: the next_run_time column wins over the one in the pickle (stale after a fire).

    @retry_on_db_operational_error
    def lookup_job(self, job_id):
        found = DjangoJob.objects.filter(id=job_id).values_list("job_state", "next_run_time").first()
        return self._job_with_time(*found) if found and found[0] else None

    def get_due_jobs(self, now):
        return self._get_jobs(keep=True, next_run_time__lte=get_django_internal_datetime(now))

    @retry_on_db_operational_error
    def _get_jobs(self, keep=False, **filters):
        """keep: the jobs unpickled are kept for the next read (_restore); only for due jobs, read again at each
        fire: every job read at start-up (50,000 of them) would be memory for nothing."""
        jobs, failed = [], []
        rows = DjangoJob.objects.filter(**filters).values_list("id", "job_state", "next_run_time")
        for job_id, state, moment in rows:
            try:
                jobs.append(self._job_with_time(state, moment, keep))
            except Exception:  # as django-apscheduler: a job that cannot be restored is removed
                self._logger.exception(f"Unable to restore job '{job_id}'. Removing it...")
                failed.append(job_id)
        if failed:
            DjangoJob.objects.filter(id__in=failed).delete()
        return jobs

    def _job_with_time(self, state, moment, keep=False):
        job = self._restore(state) if keep else self._reconstitute_job(state)
        job.next_run_time = get_apscheduler_datetime(moment, self._scheduler) if moment is not None else None
        return job

    def _restore(self, state):
        """A new Job from its pickled state. A job due every minute is read back at every fire: unpickling it (and
        resolving its function by name) each time was most of process_due's time. So the job unpickled from the
        same bytes is copied instead. The bytes are the key: any change of a job (its trigger, arguments, name)
        writes a new pickle (add_job, update_job, _write_batch), so a changed job is never served from here; the
        next run time in a pickle is stale after a fire anyway and is always set from the column by the caller."""
        if not isinstance(state, bytes):  # a memoryview from some drivers: the key must be hashable bytes
            state = bytes(state)
        known = self._restored.get(state)
        if known is None:
            known = self._reconstitute_job(state)
            if len(self._restored) >= RESTORED_AT_MOST:
                self._restored.clear()
            self._restored[state] = known
        job = Job.__new__(Job)
        for name in _JOB_SLOTS:  # a copy: the caller changes its next run time (_modify replaces, never mutates)
            setattr(job, name, getattr(known, name))
        return job

    # Batched adds.

    @contextmanager
    def batched(self):
        """Jobs added inside are written together at the end (inside the caller's transaction)."""
        self.batch = {}
        try:
            yield
            self._write_batch(list(self.batch.values()))
        finally:
            self.batch = None

    def add_job(self, job):
        if self.batch is None:
            return super().add_job(job)
        # Written by _write_batch as an upsert, so a batch replaces as APScheduler's replace_existing does.
        self.batch[job.id] = job

    def _write_batch(self, jobs):
        """INSERT ... ON CONFLICT DO UPDATE for every job of the batch, one executemany (SQLite >= 3.24 and
        PostgreSQL both have it)."""
        from django.db import connection

        if not jobs:
            return
        qn = connection.ops.quote_name
        field = DjangoJob._meta.get_field("next_run_time")
        sql = (f"INSERT INTO {qn(DjangoJob._meta.db_table)} (id, next_run_time, job_state) VALUES (%s, %s, %s) "
               "ON CONFLICT (id) DO UPDATE SET next_run_time = excluded.next_run_time, job_state = excluded.job_state")
        params = [(job.id, field.get_db_prep_save(get_django_internal_datetime(job.next_run_time), connection),
                   pickle.dumps(job.__getstate__(), self.pickle_protocol)) for job in jobs]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def get_next_run_time(self):
        if not self.deferred:
            return super().get_next_run_time()
        # The stored rows of the jobs just fired still hold the slot they fired for.
        stored = (DjangoJob.objects.filter(next_run_time__isnull=False).exclude(id__in=list(self.deferred))
                  .order_by("next_run_time").values_list("next_run_time", flat=True).first())
        times = [job.next_run_time for job in self.deferred.values() if job.next_run_time]
        if stored is not None:
            times.append(get_apscheduler_datetime(stored, self._scheduler))
        return min(times) if times else None

    def stored_next_run_times(self) -> dict:
        """job id -> next_run_time as stored (None for a job that never fires again)."""
        return {
            job_id: get_apscheduler_datetime(moment, self._scheduler) if moment else None
            for job_id, moment in DjangoJob.objects.values_list("id", "next_run_time")
        }
