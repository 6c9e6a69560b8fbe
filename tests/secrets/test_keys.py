"""The secrets keys: from the environment or a key file made on first use, the newest sealing and all opening."""
import os
import stat
import subprocess
import sys

import pytest

from tasks_app.secrets import keys
from tasks_app.secrets.keys import SecretUnreadable


def test_the_key_file_is_made_on_first_use_private_and_then_reused(settings):
    path = settings.SECRETS_KEY_FILE
    assert not path.exists()
    sealed = keys.seal("hunter2")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "hunter2" not in str(sealed) and sealed["encrypted"].startswith("gAAAA")
    assert keys.open_secret(sealed) == "hunter2"
    assert keys.current_keys() == keys.current_keys()


def test_keys_from_the_environment_win_and_the_file_is_not_made(settings):
    settings.SECRETS_KEYS = [keys.generate_key()]
    sealed = keys.seal("x")
    assert not settings.SECRETS_KEY_FILE.exists()
    assert keys.source() == keys.ENVIRONMENT
    settings.SECRETS_KEYS = [keys.generate_key()]
    with pytest.raises(SecretUnreadable) as caught:
        keys.open_secret(sealed)
    assert "x" not in str(caught.value).split(":")[0]


def test_the_newest_key_seals_and_an_older_one_still_opens(settings):
    old = keys.generate_key()
    settings.SECRETS_KEYS = [old]
    before = keys.seal("v")
    settings.SECRETS_KEYS = [keys.generate_key(), old]
    assert keys.open_secret(before) == "v"
    assert not keys.sealed_by_newest(before)
    after = keys.reseal(before)
    assert keys.sealed_by_newest(after) and keys.open_secret(after) == "v"


def test_a_rewritten_key_file_is_read_again_by_a_process_that_runs_on(settings):
    sealed = keys.seal("v")
    first = keys.current_keys()[0]
    new = keys.generate_key()
    keys.write_key_file([new, first])
    assert keys.current_keys() == [new, first]
    assert keys.open_secret(sealed) == "v"
    assert keys.sealed_by_newest(keys.seal("w"))
    assert stat.S_IMODE(os.stat(settings.SECRETS_KEY_FILE).st_mode) == 0o600


def test_a_malformed_environment_key_stops_the_process_naming_the_variable_not_the_key(tmp_path):
    env = {**os.environ, "SCHEDULER_SECRETS_KEY": "not-a-key-at-all"}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode != 0
    assert "SCHEDULER_SECRETS_KEY: key 1 of 1 is not a Fernet key" in result.stderr
    assert "not-a-key-at-all" not in result.stderr
