"""Log handlers for the tests: one that keeps what it receives, one that always fails."""
import threading

from tasks_app.logs.handlers import LogHandler

received = []
lock = threading.Lock()


class Collector(LogHandler):
    def handle(self, record):
        with lock:
            received.append(record)


class Broken(LogHandler):
    def handle(self, record):
        raise RuntimeError("the log shipper is down")
