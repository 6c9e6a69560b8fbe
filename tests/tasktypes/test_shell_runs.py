"""The shell type through the real runner: an executable file of the tasks folder run by its #! line, through
the shepherd (clean environment, task_env with its secrets masked in the output, one-off values, exit codes),
and refused clearly when it cannot run."""
import pytest

from tasks_app.engine.runner import run_execution
from tasks_app.models import ExecutionStatus
from tasks_app.secrets import keys


def test_a_shell_script_runs_by_its_shebang_with_the_tasks_environment(make_execution):
    execution = make_execution("shell", "hello.sh", task_env={"DB_PASSWORD": keys.seal("pa55-w0rd-x"),
                                                              "DAY": "monday"})
    result = run_execution(execution)
    out = execution.output_path.read_text()
    assert result.status == ExecutionStatus.SUCCESS, out
    assert result.return_code == 0 and result.pid
    assert "hello from sh" in out and f"TASK_ID={execution.task.task_id} DAY=monday" in out
    assert "secret: ***" in out and "pa55-w0rd-x" not in out
    assert "on stderr" in out
    assert out.splitlines().count("y") == 2  # `yes | head` ends: SIGPIPE is the default again in the script


def test_a_shell_scripts_exit_code_is_the_runs(make_execution):
    execution = make_execution("shell", "hello.sh", task_env={"EXIT_CODE": "3"})
    result = run_execution(execution)
    assert (result.status, result.return_code, result.error_message) == ("failed", 3, "exit code 3")


def test_the_runs_one_off_values_reach_a_shell_script(make_execution):
    execution = make_execution("shell", "hello.sh", task_allow_overrides=True, task_env={"DAY": "monday"})
    execution.env_overrides = {"DAY": "friday"}
    execution.save()
    assert run_execution(execution).status == ExecutionStatus.SUCCESS
    assert "DAY=friday" in execution.output_path.read_text()


@pytest.mark.parametrize("script, words", [
    ("not_executable.sh", "is not executable (chmod +x it)"),
    ("no_shebang.sh", "has no #! line naming its interpreter"),
])
def test_a_file_that_cannot_run_fails_the_run_naming_why(make_execution, script, words):
    execution = make_execution("shell", script)
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED and result.return_code is None
    assert f"task_exec '{script}' cannot run as a shell task: it {words}" in result.error_message


def test_a_type_that_is_not_installed_fails_the_run_naming_it(make_execution):
    execution = make_execution("cobol", "hello.sh")
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED
    assert "task_type 'cobol' is not installed (installed: python, shell, http" in result.error_message
