"""Sender: the thread that publishes the CeleryExecutor's messages, so that a slow or unreachable broker never
holds up the scheduler's loop. Messages go out in the order they were given; while the broker cannot be
reached they wait here (one warning when it goes, one line when it is back) and are sent when it returns."""
import logging
import threading
import time
from collections import deque

log = logging.getLogger("TaskExecutor")

RETRY_FIRST, RETRY_AT_MOST = 0.5, 5.0  # seconds between attempts while the broker cannot be reached


class Sender:
    def __init__(self, app, task_name: str):
        self.app = app
        self.task_name = task_name
        self._cond = threading.Condition()
        self._waiting: deque = deque()  # Flights (celery_executor.py) to send
        self._closed = False
        self._failing_since = None  # monotonic, while the broker cannot be reached
        self._thread = threading.Thread(target=self._run, name="celery-sender", daemon=True)
        self._thread.start()

    def send(self, flight) -> None:
        with self._cond:
            self._waiting.append(flight)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._waiting)

    def close(self, timeout: float) -> list:
        """Send what is waiting for at most `timeout` s, then stop; returns the flights left unsent."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting and self._failing_since is None and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            self._closed = True
            left = list(self._waiting)
            self._waiting.clear()
            self._cond.notify_all()
        self._thread.join(timeout + 5)
        return left

    def _run(self):
        pause = RETRY_FIRST
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                flight = self._waiting[0]
            try:
                self._publish(flight)
            except Exception as exc:  # the broker is down or refuses: keep the message, try again
                self._failed(exc)
                with self._cond:
                    self._cond.wait_for(lambda: self._closed, pause)
                pause = min(pause * 2, RETRY_AT_MOST)
                continue
            pause = RETRY_FIRST
            flight.sent_at = time.monotonic()
            with self._cond:
                if self._waiting and self._waiting[0] is flight:
                    self._waiting.popleft()
                self._cond.notify_all()

    def _publish(self, flight):
        # The message holds the execution id only: the worker reads the task (and its secrets) from the database.
        self.app.send_task(self.task_name, args=[flight.execution.pk], queue=flight.queue, retry=False,
                           ignore_result=True)
        if self._failing_since is not None:
            log.info("The broker takes messages again after %.1f s; %d run(s) waiting to be sent",
                     time.monotonic() - self._failing_since, self.pending())
            self._failing_since = None

    def _failed(self, exc):
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("Cannot send runs to the broker (%s: %s); they wait and are sent when it is back",
                        type(exc).__name__, exc)
