"""The script's process starts with what `python script.py` starts with, whatever its shepherd did before forking
it: the signal dispositions Python sets (only SIGPIPE ignored, only SIGINT caught, nothing blocked), even for
signals the scheduler itself ignores, and none of the shepherd's modules (nor the atexit module it imported for
the script's end), with or without the masking of secrets."""
import json
import signal

import pytest

from tasks_app.engine.runner import run_execution
from tasks_app.secrets import keys

from .conftest import processes_with

# What the scheduler may have been started with (a shell's background job ignores SIGINT and SIGQUIT).
IGNORED_BY_THE_SCHEDULER = (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGHUP, signal.SIGRTMIN + 3)


def mask(*signals):
    return sum(1 << (sig - 1) for sig in signals)


# The signals a process can set through Python: the C library keeps two real-time signals for itself (32 and 33 on
# glibc), which Python cannot reset, and which a spawned `python script.py` inherits as they were too.
SETTABLE = mask(*signal.valid_signals())


@pytest.fixture
def scheduler_ignoring_signals():
    """The engine's process (this one) ignores some signals, which a spawned shepherd and the fork server
    inherit across exec, as a scheduler started in the background does."""
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in IGNORED_BY_THE_SCHEDULER}
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("secret", [False, True], ids=["plain", "with a secret"])
def test_the_script_starts_with_pythons_signals_and_none_of_the_shepherds_modules(
        start_way, scheduler_ignoring_signals, make_run, project, marker, secret):
    env = {"DB_PASSWORD": keys.seal("Sup3r-s3cret")} if secret else {}
    execution = make_run(project.script("starts_clean.py", f"{marker}.py"), task_env=env)

    result = run_execution(execution)

    assert result.status == "success", execution.read_output()
    seen = json.loads(execution.read_output().strip().splitlines()[-1])
    assert seen["ignored"] & SETTABLE == mask(signal.SIGPIPE), hex(seen["ignored"])
    assert seen["caught"] & SETTABLE == mask(signal.SIGINT), hex(seen["caught"])
    assert seen["blocked"] & SETTABLE == 0
    assert [name for name in seen["modules"] if name == "shepherd" or name.startswith("shepherd.")] == []
    assert "atexit" not in seen["modules"]
    assert processes_with(marker) == []
