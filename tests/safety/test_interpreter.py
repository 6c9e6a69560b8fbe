"""Only the script runs: its interpreter ignores every PYTHON* variable and the user's site folder, even when
a refused name reaches the run, as root and as a run-as user; it sees its task's zone; a process that
cannot be set up fails naming the step. (The programs a script calls: tests/engine_runner/test_env_attacks.py.)"""
import json
import sys
from pathlib import Path

import pytest

from tasks_app.engine import childenv
from tasks_app.engine.runner import run_execution

from .conftest import processes_with


@pytest.fixture
def pwned(marker):
    """A file an injected command would create: in /tmp, so a run-as user could create it too."""
    path = Path(f"/tmp/{marker}-pwned")
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.parametrize("as_user", [False, True], ids=["as the scheduler's user", "as a run-as user"])
def test_python_variables_that_reach_a_run_do_not_change_the_scripts_interpreter(
        start_way, make_run, project, marker, pwned, settings, unix_users, usable_python, as_user, monkeypatch):
    if as_user:
        (alice,) = unix_users(1)
        usable_python(alice)
        settings.SCHEDULER_RUN_AS = alice
    hooks = project.root / "hooks"
    hooks.mkdir(mode=0o755)
    hooks.chmod(0o755)
    code = f"open({str(pwned)!r}, 'w').close()\n"
    for name in ("sitecustomize.py", "usercustomize.py", "startup.py", "antigravity.py"):
        (hooks / name).write_text(code)
        (hooks / name).chmod(0o644)
    injected = {"PYTHONPATH": str(hooks), "PYTHONSTARTUP": str(hooks / "startup.py"), "PYTHONINSPECT": "1",
                "PYTHONWARNINGS": "all:0:antigravity.x:0:0", "BROWSER": f"/bin/sh -c 'touch {pwned}'",
                "PYTHONUSERBASE": str(hooks), "PYTHONHOME": "/nonexistent", "PYTHONIOENCODING": "latin-1",
                "PYTHONUNBUFFERED": ""}
    # As if the deny list had been bypassed (a row written straight into the database).
    monkeypatch.setattr(childenv, "check_task_env", lambda env: None)
    execution = make_run(project.script("interpreter.py", f"{marker}.py"),
                         task_env={"RUN_MARKER": marker, **injected})

    result = run_execution(execution)

    assert result.status == "success", execution.read_output()
    seen = json.loads(execution.read_output().strip().splitlines()[-1])
    assert (seen["ignore_environment"], seen["no_user_site"], seen["utf8_mode"]) == (1, 1, 1)
    assert seen["stdout_encoding"] == "utf-8"
    assert seen["path"][0] == str(project.tasks)
    assert str(hooks) not in seen["path"]
    # The project's own folder (its settings, its code) is not importable; the interpreter's library may sit
    # inside it (a virtual environment in .venv), and that is not the project's code.
    library = (sys.prefix, sys.base_prefix)
    project_parts = [part for part in seen["path"] if not part.startswith(library)]
    assert not any(part.startswith(str(Path(settings.BASE_DIR))) for part in project_parts), seen["path"]
    assert seen["modules"] == []
    assert not pwned.exists()
    assert processes_with(marker) == []


def test_the_scripts_local_time_is_in_its_tasks_zone(start_way, make_run, project, marker, settings):
    settings.TIME_ZONE = "UTC"
    execution = make_run(project.script("zone.py", f"{marker}.py"), task_timezone="Asia/Shanghai")

    result = run_execution(execution)

    assert result.status == "success", execution.read_output()
    seen = json.loads(execution.read_output().strip().splitlines()[-1])
    assert seen == {"tzname": ["CST", "CST"], "timezone": -8 * 3600, "offset": 8 * 3600.0, "strftime": "CST"}


def test_a_run_whose_process_cannot_be_set_up_fails_naming_the_step(start_way, make_run, project, marker, settings):
    settings.BASE_DIR = project.root / "moved-away"  # runs start in the project folder
    execution = make_run(project.script("zone.py", f"{marker}.py"))

    result = run_execution(execution)

    assert (result.status, result.return_code) == ("failed", None)
    assert result.error_message == (f"could not start: cannot enter {settings.BASE_DIR}: [Errno 2] No such file "
                                    f"or directory: '{settings.BASE_DIR}'")
    assert processes_with(marker) == []
