"""/metrics as Prometheus itself reads it (Debian's prometheus package: `make prometheus` installs it): promtool
finds nothing to lint in the answer, the alert rules of docs/metrics.md are valid, and a real Prometheus server
scrapes the live server with the bearer token, stores the counters the executions table says, and evaluates the
documented rules against them."""
import json
import re
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from tasks_app.models import Task, TaskExecution, TaskStatus
from tests.engine.conftest import wait_for

from .conftest import TOKEN, scrape_http

pytestmark = [pytest.mark.skipif(not shutil.which("prometheus") or not shutil.which("promtool"),
                                 reason="Prometheus is not installed (make prometheus)"),
              pytest.mark.django_db(transaction=True)]

DOC = Path(settings.BASE_DIR) / "docs" / "metrics.md"


def documented_rules(folder: Path) -> Path:
    """The alert rules of docs/metrics.md, as a rules file."""
    block = re.search(r"```yaml\n(groups:.*?)```", DOC.read_text(), re.S).group(1)
    path = folder / "rules.yml"
    path.write_text(block)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def some_runs():
    task = Task.objects.create(task_id="nightly", task_name="nightly", task_exec="x.py")
    TaskStatus.objects.create(task=task)
    now = timezone.now()
    for status, count in (("success", 3), ("failed", 1)):
        for _ in range(count):
            TaskExecution.objects.create(task=task, status=status, start_time=now, end_time=now, duration=2.0,
                                         return_code=0 if status == "success" else 1)


def test_promtool_finds_nothing_to_lint_in_the_answer_and_the_documented_rules_are_valid(live_server, tmp_path):
    some_runs()
    text = scrape_http(live_server).body.decode()
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), lint.stdout + lint.stderr
    rules = subprocess.run(["promtool", "check", "rules", str(documented_rules(tmp_path))], capture_output=True,
                           text=True)
    assert rules.returncode == 0 and "SUCCESS: 2 rules found" in rules.stdout, rules.stdout + rules.stderr


def test_a_real_prometheus_scrapes_with_the_token_and_evaluates_the_documented_rules(live_server, tmp_path):
    some_runs()
    (tmp_path / "token").write_text(TOKEN)
    target = live_server.url.split("//", 1)[1]
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{documented_rules(tmp_path)}"]
scrape_configs:
  - job_name: scheduler
    authorization: {{type: Bearer, credentials_file: "{tmp_path / 'token'}"}}
    static_configs: [{{targets: ["{target}"]}}]
""")
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    server = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                               f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT)

    def api(path, **query):
        url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return json.loads(answer.read())["data"]
        except OSError:
            return None

    try:
        def stored():
            data = api("query", query='scheduler_executions_total{task_id="nightly"} > 0')
            return data and {r["metric"]["status"]: float(r["value"][1]) for r in data["result"]}

        assert wait_for(stored, 60, interval=0.5, what="Prometheus to scrape /metrics") == {"success": 3, "failed": 1}
        (up,) = api("targets")["activeTargets"]
        assert up["health"] == "up" and up["lastError"] == ""

        def pending_rules():
            data = api("rules")
            found = {r["name"]: r for group in (data or {}).get("groups", []) for r in group["rules"]}
            # No scheduler runs in this test: once an evaluation has seen the scraped scheduler_leaders at 0, the
            # rule waits out its `for: 1m` as pending.
            return found if found.get("SchedulerNotLeading", {}).get("state") == "pending" else None

        rules = wait_for(pending_rules, 30, interval=0.5, what="SchedulerNotLeading to be pending")
        assert set(rules) == {"SchedulerNotLeading", "TaskFailing"}
        assert all(r["health"] == "ok" for r in rules.values()), rules
        # One run of nightly in four failed, below the documented half (and no increase yet between samples).
        assert rules["TaskFailing"]["state"] == "inactive"
    finally:
        server.terminate()
        server.wait(30)
        log.close()
