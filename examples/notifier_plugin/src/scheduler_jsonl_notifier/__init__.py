"""An example notifier plugin for the task scheduler: every notice as one JSON line appended to the file that the
environment variable NOTICES_JSONL names. Registered by its dotted path in TASK_NOTIFIERS."""
import json
import os

from tasks_app.engine.notify import Notifier, NotifierError, summary


class JsonLinesNotifier(Notifier):
    """applies(): whether to send for this run (the scheduler has already checked task_notify's on_success and
    on_failure); send(): send it, raising NotifierError (retryable or not) when it cannot; target(): where to,
    as the run's page may show it to anyone (never a token)."""

    def path(self):
        return os.environ.get("NOTICES_JSONL", "")

    def applies(self):
        return bool(self.path())

    def target(self):
        return f"file:{self.path()}"

    def send(self):
        line = json.dumps(summary(self.execution), ensure_ascii=False)  # the facts, the task's secrets masked
        try:
            with open(self.path(), "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise NotifierError(f"cannot append to {self.path()}: {exc.strerror}", retryable=True) from exc
