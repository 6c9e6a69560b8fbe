"""What task_env can and cannot do to a real run: a row saved before a name was refused fails without starting;
the administrator's SCHEDULER_TASK_ENV reaches every run and task_env cannot override it; and a script calling
bash, sh, the system python3 and perl with attack variables that the deny list lets through creates no marker,
where the same tools with refused ones (set as an administrator) do, so a marker would be seen.

Each runs as the scheduler's user and as a run-as user made for the test (markers live in a world-writable folder
under /tmp so that such a user could create them)."""
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tasks_app.definition.envnames import refused_env_names
from tasks_app.definition.paths import task_log_file
from tasks_app.engine.runner import run_execution
from tasks_app.models import Task, TaskExecution
from tests.safety.conftest import unix_users, usable_python  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

RUN_AS = [pytest.param(None, id="as the scheduler's user"), pytest.param("made", id="as a run-as user")]


@pytest.fixture
def markers():
    """A folder anyone may create files in (the run may be another user's), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="env-attack-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def use_run_as(settings, unix_users, usable_python):
    def use(run_as):
        if run_as is not None:
            (name,) = unix_users(1)
            usable_python(name)
            settings.SCHEDULER_RUN_AS = name

    return use


def reloaded(execution):
    return TaskExecution.objects.select_related("task").get(pk=execution.pk)


def attack_env(m: Path) -> dict:
    """Variables an attacker would try that the deny list lets through: each would create a marker in `m` if a
    shell, the C library, python3 or perl acted on it."""
    return {
        "ls": f"() {{ :; }}; touch {m}/shellshock",  # CVE-2014-6271: bash once ran what follows a function
        "uname": f"() {{ touch {m}/function-import; }}",
        "id": f"() {{ touch {m}/function-import-sh; }}",
        "CMD": f"$(touch {m}/command-substitution)",
        "TICKS": f"`touch {m}/backticks`",
        "TIMEFORMAT": f"$(touch {m}/timeformat)",
        "HISTFILE": f"{m}/histfile",
        "MAILPATH": f"{m}/mailpath",
        "MAIL": f"{m}/mail",
        "TERM": f"$(touch {m}/term)",
        "SHLVL": f"$(touch {m}/shlvl)",
        "USER": f"$(touch {m}/user)",
        "HOSTNAME": f"$(touch {m}/hostname)",
        "COLUMNS": f"$(touch {m}/columns)",
        "POSIXLY_CORRECT": "1",
        "PWD": str(m),
        "OLDPWD": str(m),
        "LOGDIR": str(m),
        "TZ": f":{m}/tz",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "LANGUAGE": "C",
        "BASH_ENV_": f"$(touch {m}/near-bash-env)",  # near misses of refused names do nothing
        "XPATH": str(m),
        "MY_PYTHONPATH": str(m),
        "X_PERL5OPT": f"-M5;system(q{{touch}},q{{{m}/near-perl5opt}})",
    }


def control_env(m: Path) -> dict:
    """Refused variables that do make each tool create its marker: proof that a marker would be noticed."""
    fake_bin, site = m / "bin", m / "site"
    fake_bin.mkdir()
    site.mkdir()
    (fake_bin / "id").write_text(f"#!/bin/sh\ntouch {m}/sh\n")
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        f"open('{m}/python3-system' if sys.executable == '/usr/bin/python3' else '{m}/python3-other', 'w').close()\n")
    for path in (fake_bin, site, fake_bin / "id", site / "sitecustomize.py"):
        path.chmod(0o755)
    return {
        "BASH_ENV": f"$(touch {m}/bash)",
        "PATH": f"{fake_bin}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(site),
        "PERL5OPT": f"-M5;system(q{{touch}},q{{{m}/perl}})",
    }


def made(m: Path) -> set:
    return {p.name for p in m.iterdir() if p.is_file()}


@pytest.mark.parametrize("run_as", RUN_AS)
def test_attack_variables_the_list_lets_through_make_no_tool_run_anything_else(
    make_execution, use_run_as, markers, run_as
):
    use_run_as(run_as)
    env = attack_env(markers)
    assert refused_env_names(env) == []  # what an operator may save
    execution = make_execution("calls_tools.py", task_env=env)

    result = run_execution(execution)

    output = execution.read_output()
    assert result.status == "success", output
    for tool in ("bash", "sh", "python3", "perl"):
        assert f"{tool}-ran" in output, output
    assert made(markers) == set()


@pytest.mark.parametrize("run_as", RUN_AS)
def test_the_same_tools_do_create_markers_through_refused_variables_set_by_an_administrator(
    make_execution, settings, use_run_as, markers, run_as
):
    use_run_as(run_as)
    settings.SCHEDULER_TASK_ENV = control_env(markers)
    execution = make_execution("calls_tools.py")

    result = run_execution(execution)

    assert result.status == "success", execution.read_output()
    assert {"bash", "sh", "python3-system", "perl"} <= made(markers)


def test_a_row_saved_before_a_name_was_refused_fails_naming_the_keys_without_starting(make_execution, tmp_path):
    dump = tmp_path / "env.json"
    execution = make_execution("dump_env.py", task_env={"ENV_DUMP": str(dump)})
    Task.objects.filter(pk=execution.task.pk).update(
        task_env={"ENV_DUMP": str(dump), "LD_PRELOAD": "/tmp/evil.so", "PARAM1": "ok", "PATH": "/tmp"})

    result = run_execution(reloaded(execution))

    assert (result.status, result.return_code, result.pid) == ("failed", None, None)
    assert result.error_message.startswith("could not start: task_env holds refused names: ")
    # In the order the database gives (PostgreSQL's jsonb sorts keys its own way).
    assert "LD_PRELOAD (the dynamic loader" in result.error_message
    assert "PATH (it decides which program a command name runs)" in result.error_message
    assert "/tmp/evil.so" not in result.error_message
    assert not dump.exists()
    assert "could not start: task_env holds refused names: " in task_log_file(execution.task).read_text()


def test_the_administrators_task_env_reaches_every_run_and_task_env_cannot_override_it(
    make_execution, settings, tmp_path
):
    settings.SCHEDULER_TASK_ENV = {"HTTPS_PROXY": "http://proxy:3128", "PATH": "/opt/tools/bin:/usr/bin:/bin",
                                   "PARAM1": "from the administrator"}
    dump = tmp_path / "env.json"
    execution = make_execution("dump_env.py", task_env={"ENV_DUMP": str(dump), "PARAM1": "from the task"})

    assert run_execution(execution).status == "success"

    env = json.loads(dump.read_text(encoding="utf-8"))["env"]
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert env["PATH"] == "/opt/tools/bin:/usr/bin:/bin"  # it replaces the engine's PATH
    assert env["PARAM1"] == "from the administrator"
    assert env["TASK_ID"] == execution.task.task_id
