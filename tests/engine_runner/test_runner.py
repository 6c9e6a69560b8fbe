"""runner.run_execution with real processes: results, environment, logs, output, timeouts and stops."""
import json
import os
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings

from tasks_app.definition.paths import task_log_file
from tasks_app.engine import runner
from tasks_app.engine.procgroup import kill_process_group
from tasks_app.engine.runner import StopSignal, run_execution

from .helpers import group_exists, process_exists, wait_for

pytestmark = pytest.mark.django_db

# The document's test task, as shipped in conf/tasks.json.
DOCUMENT_ENV = json.loads((Path(settings.BASE_DIR) / "conf" / "tasks.json").read_text(encoding="utf-8"))[
    "tasks"][0]["task_env"]


@pytest.mark.slow
def test_the_documents_test_task_ends_success_in_about_two_seconds_and_no_log_line_is_doubled(
    make_execution, settings
):
    settings.TASKS_DIR = settings.BASE_DIR / "tasks"
    execution = make_execution("tasks/test_task.py", task_id="test-task", task_name="测试任务",
                               task_timeout=300, task_env=DOCUMENT_ENV)
    pids = []

    result = run_execution(execution, on_start=lambda e, pid: pids.append(pid))

    assert result.status == "success", result
    assert result.return_code == 0 and result.error_message == ""
    assert 1.9 <= result.duration < 3.5
    assert result.pid == pids[0]
    assert result.start_time.utcoffset().total_seconds() == 0 and result.end_time > result.start_time
    log_file = task_log_file(execution.task)
    assert log_file == settings.LOGS_DIR / "task_test-task.log"
    lines = log_file.read_text(encoding="utf-8").splitlines()
    # test_task.py logs each parameter twice: in its configuration block and under "所有环境变量".
    for key, value in DOCUMENT_ENV.items():
        assert sum(line.endswith(f" - INFO -   {key} = {value}") for line in lines) == 2, key
    assert sum("任务开始执行" in line for line in lines) == 1
    engine = [line for line in lines if " - TaskExecutor - " in line]
    assert len(engine) == 2
    assert f"Execution {execution.execution_id} starting:" in engine[0]
    assert f"Execution {execution.execution_id} finished: success, return code 0" in engine[1]
    # The script's console handler goes to the captured output, not to the task log a second time.
    assert "PARAM1 = 值1" in execution.read_output()


def test_a_script_that_exits_1_fails_with_return_code_1_and_its_output_is_captured(make_execution):
    execution = make_execution("exit_one.py")

    result = run_execution(execution)

    assert (result.status, result.return_code, result.error_message) == ("failed", 1, "exit code 1")
    assert execution.read_output() == "about to fail\nsomething went wrong\n"
    assert execution.read_output(tail_lines=1) == "something went wrong\n"


def test_a_missing_script_fails_with_a_message_naming_it_and_never_raises(make_execution):
    execution = make_execution("no_such_script.py")

    result = run_execution(execution)

    assert result.status == "failed" and result.return_code is None and result.pid is None
    assert result.error_message == "could not start: task_exec 'no_such_script.py': no such file in the tasks folder"
    assert "could not start" in task_log_file(execution.task).read_text()


def test_a_script_that_a_symlink_now_points_outside_the_tasks_folder_is_refused_at_run_time(
    make_execution, settings, tmp_path
):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    outside = tmp_path / "evil.py"
    outside.write_text("print('should not run')\n")
    (tasks / "job.py").symlink_to(outside)
    settings.TASKS_DIR = tasks
    execution = make_execution("job.py")

    result = run_execution(execution)

    assert result.status == "failed"
    assert result.error_message == "could not start: task_exec 'job.py': it leads outside the tasks folder"
    assert execution.read_output() == ""


def test_a_script_that_ran_and_whose_symlink_is_then_pointed_outside_is_refused_at_its_next_run(
    make_execution, settings, tmp_path
):
    """The resolved path is remembered between runs (one os.stat checks it): a changed link is seen all the same."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "real.py").write_text("print('inside')\n")
    outside = tmp_path / "evil.py"
    outside.write_text("print('should not run')\n")
    (tasks / "job.py").symlink_to(tasks / "real.py")
    settings.TASKS_DIR = tasks
    first = make_execution("job.py")
    assert run_execution(first).status == "success"

    (tasks / "job.py").unlink()
    (tasks / "job.py").symlink_to(outside)
    second = make_execution("job.py", task_id=first.task.task_id)
    result = run_execution(second)

    assert result.error_message == "could not start: task_exec 'job.py': it leads outside the tasks folder"
    assert second.read_output() == ""


def test_the_document_style_path_follows_a_moved_tasks_folder(make_execution, settings, tmp_path):
    tasks = tmp_path / "elsewhere"
    tasks.mkdir()
    shutil.copy(settings.TASKS_DIR / "dump_env.py", tasks / "dump_env.py")
    settings.TASKS_DIR = tasks
    dump = tmp_path / "env.json"
    execution = make_execution("tasks/dump_env.py", task_env={"ENV_DUMP": str(dump)})

    result = run_execution(execution)

    assert result.status == "success", result
    seen = json.loads(dump.read_text())
    # Exactly what `python script.py` would show the script.
    assert seen["argv"] == [str(tasks / "dump_env.py")]
    assert seen["path0"] == str(tasks)
    assert seen["cwd"] == str(settings.BASE_DIR)
    assert seen["name"] == "__main__" and seen["file"] == str(tasks / "dump_env.py")


def test_a_child_sees_none_of_the_engines_secrets_but_its_task_variables(make_execution, monkeypatch, tmp_path):
    secrets = {
        "DJANGO_SECRET_KEY": "engine-secret-key-that-is-long-enough-000000",
        "DATABASE_URL": "postgres://admin:pw@db/prod",
        "EMAIL_HOST_PASSWORD": "smtp-password",
        "SOME_API_TOKEN": "tok-123",
        "AWS_SECRET_ACCESS_KEY": "aws",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    dump = tmp_path / "env.json"
    execution = make_execution("dump_env.py", task_env={"ENV_DUMP": str(dump), "PARAM1": "值1", "RETRIES": 3})

    assert run_execution(execution).status == "success"

    env = json.loads(dump.read_text(encoding="utf-8"))["env"]
    for key, value in secrets.items():
        assert key not in env
        assert value not in env.values()
    assert env["TASK_ID"] == execution.task.task_id  # task_env cannot even hold it (test_env_attacks.py)
    assert env["TASK_EXECUTION_ID"] == str(execution.execution_id)
    assert env["TASK_NAME"] == execution.task.task_name
    assert env["TASK_LOG"] == str(task_log_file(execution.task)) and os.path.isabs(env["TASK_LOG"])
    assert env["PARAM1"] == "值1" and env["RETRIES"] == "3"
    assert env["LANG"] == env["LC_ALL"] == "C.UTF-8" and env["PYTHONIOENCODING"] == "utf-8"
    assert env["TZ"] == settings.TIME_ZONE
    assert env["PATH"].endswith("/usr/local/bin:/usr/bin:/bin")
    assert datetime.fromisoformat(env["TASK_SCHEDULED_TIME"]).utcoffset() is not None  # the time asked, with its zone
    extra = set(env) - {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONIOENCODING", "PYTHONUNBUFFERED",
                        "TASK_ID", "TASK_NAME", "TASK_LOG", "TASK_EXECUTION_ID", "TASK_SCHEDULED_TIME", "ENV_DUMP",
                        "PARAM1", "RETRIES", "LC_CTYPE"}  # the interpreter itself may add LC_CTYPE
    assert not extra


def test_a_task_with_its_own_zone_gets_it_as_tz(make_execution, tmp_path):
    dump = tmp_path / "env.json"
    execution = make_execution("dump_env.py", task_timezone="Asia/Shanghai", task_env={"ENV_DUMP": str(dump)})

    run_execution(execution)

    assert json.loads(dump.read_text())["env"]["TZ"] == "Asia/Shanghai"


def test_a_timeout_kills_the_whole_group_even_processes_that_ignore_sigterm(make_execution, tmp_path, settings):
    settings.SCHEDULER_KILL_GRACE = 1  # 2 s in production; shorter keeps the suite quick
    pids_file = tmp_path / "pids"
    execution = make_execution("family.py", task_timeout=2, task_env={"PIDS_FILE": str(pids_file)})
    began = time.monotonic()

    result = run_execution(execution)

    elapsed = time.monotonic() - began
    assert result.status == "timeout"
    assert result.error_message == "timed out after 2 s"
    assert result.return_code == -9  # it ignored SIGTERM, so SIGKILL ended it
    assert 2 + 1 - 0.2 <= elapsed <= 2 + 1 + 1
    assert not group_exists(result.pid)
    for pid in map(int, pids_file.read_text().split()):
        assert not process_exists(pid), pid


def test_a_stop_ends_a_run_within_two_seconds_and_says_why(make_execution, tmp_path):
    ready = tmp_path / "ready"
    execution = make_execution("sleeper.py", task_env={"READY_FILE": str(ready)})
    stop = StopSignal()
    results = []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution, stop)))
    thread.start()
    wait_for(ready.exists, 10, what="the script to start")

    asked = time.monotonic()
    stop.set("by alice")
    thread.join(5)

    assert time.monotonic() - asked < 2
    (result,) = results
    assert (result.status, result.error_message, result.return_code) == ("stopped", "stopped: by alice", -15)
    assert not group_exists(result.pid)
    stop.close()


def test_a_plain_threading_event_also_stops_a_run(make_execution, tmp_path):
    ready = tmp_path / "ready"
    execution = make_execution("sleeper.py", task_env={"READY_FILE": str(ready)})
    event = threading.Event()
    threading.Thread(target=lambda: (wait_for(ready.exists, 10), event.set()), daemon=True).start()

    result = run_execution(execution, event)

    assert result.status == "stopped" and result.error_message == "stopped"


def test_processes_left_behind_by_a_finished_script_are_killed(make_execution, tmp_path):
    pids_file = tmp_path / "pids"
    execution = make_execution("background.py", task_env={"PIDS_FILE": str(pids_file)})

    result = run_execution(execution)

    assert result.status == "success"
    assert not process_exists(int(pids_file.read_text()))
    assert not group_exists(result.pid)


def test_output_is_kept_to_the_last_bytes_of_the_limit_with_a_marker(make_execution, settings):
    settings.SCHEDULER_OUTPUT_LIMIT = 4096
    execution = make_execution("chatty.py", task_env={"LINES": "1000"})  # ~100 kB

    result = run_execution(execution)

    assert result.output_truncated is True
    data = execution.output_path.read_bytes()
    marker = b"[output truncated: kept the last 4096 bytes]\n"
    assert data.startswith(marker)
    assert len(data) == len(marker) + 4096
    assert data.endswith(b"line 00000999 " + b"x" * 85 + b"\nthe end\n")


def test_output_under_the_limit_is_kept_whole(make_execution):
    execution = make_execution("chatty.py", task_env={"LINES": "10"})

    result = run_execution(execution)

    assert result.output_truncated is False
    assert len(execution.output_path.read_bytes()) == 10 * 100 + len("the end\n")
    assert execution.read_output(tail_lines=2).startswith("line 00000009 ")


def test_a_runaway_output_is_cut_while_the_script_still_runs(make_execution, settings, monkeypatch):
    settings.SCHEDULER_OUTPUT_LIMIT = 1024
    monkeypatch.setattr(runner, "SIZE_CHECK_EVERY", 0.25)  # once a second in production
    execution = make_execution("chatty.py", task_env={"LINES": "3000000"})  # 300 MB if nothing cut it
    sizes = []
    stop = StopSignal()

    def watch():
        while not stop.is_set():
            if execution.output_path.exists():
                sizes.append(execution.output_path.stat().st_size)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    try:
        result = run_execution(execution, stop_event=runner_timeout(stop, 1.2))
    finally:
        stop.set()
    assert result.output_truncated
    # Checked every SIZE_CHECK_EVERY: it may grow meanwhile, but is cut back to about the limit each time.
    assert min(sizes[len(sizes) // 2:]) < 10 * 1024 * 1024
    assert execution.output_path.stat().st_size <= 1024 + 100


def runner_timeout(signal, seconds):
    threading.Timer(seconds, signal.set, args=("test over",)).start()
    return signal


def test_kill_process_group_kills_only_a_group_that_carries_the_execution_id(make_execution, tmp_path):
    ready = tmp_path / "ready"
    execution = make_execution("sleeper.py", task_env={"READY_FILE": str(ready)})
    pids = []
    thread = threading.Thread(target=lambda: run_execution(execution, on_start=lambda e, p: pids.append(p)))
    thread.start()
    wait_for(ready.exists, 10)

    assert kill_process_group(pids[0], execution_id=execution.execution_id + 1) is False
    assert group_exists(pids[0])
    assert kill_process_group(pids[0], execution_id=execution.execution_id) is True
    thread.join(5)
    assert not group_exists(pids[0])
    assert kill_process_group(pids[0]) is False  # already gone


def test_read_output_of_an_execution_that_never_ran_is_empty(make_execution):
    assert make_execution("exit_one.py").read_output() == ""


def test_the_task_log_is_rotated_by_size_and_left_closed_between_runs(make_execution, settings):
    settings.LOG_MAX_BYTES = 300
    settings.LOG_BACKUP_COUNT = 2
    execution = make_execution("exit_one.py", task_id="rotating")
    log_file = task_log_file(execution.task)

    for _ in range(4):
        run_execution(execution)

    assert log_file.exists()
    assert log_file.with_name(log_file.name + ".1").exists()
    assert not log_file.with_name(log_file.name + ".3").exists()
    assert log_file.stat().st_size <= 300
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
    assert not any(path.startswith(str(log_file)) for path in open_files)


def test_a_run_asked_to_stop_before_it_started_is_not_started(make_execution):
    execution = make_execution("exit_one.py")
    stop = StopSignal()
    stop.set("requested by carol")

    result = run_execution(execution, stop)

    assert (result.status, result.return_code, result.error_message) == ("stopped", None,
                                                                          "stopped: requested by carol")
    assert not execution.output_path.exists()
    stop.close()


def test_an_engine_error_during_a_run_leaves_no_process_behind(make_execution):
    execution = make_execution("sleeper.py")
    pids = []

    def interrupted(execution, pid):
        pids.append(pid)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_execution(execution, on_start=interrupted)

    assert not group_exists(pids[0])
