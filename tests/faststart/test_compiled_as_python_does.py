"""The shepherd compiles a script as `python script.py` does (shepherd/sysio.compile_script, not the compile()
built-in, whose first call creates every AST node type): the same errors, coding cookie and future imports, in a
run spawned, forked for fast start, or held for its slot."""
import subprocess

import pytest

from tasks_app.engine import preparation
from tasks_app.engine.childenv import INTERPRETER_FLAGS, task_python
from tasks_app.engine.runner import run_execution

SCRIPTS = {
    "syntax_error.py": b"x = 1\ndef f(:\n    pass\n",
    "bad_indent.py": b"x = 1\n  y = 2\n",
    "latin1.py": "# -*- coding: latin-1 -*-\nprint(repr('\xe9t\xe9'))\n".encode("latin-1"),
    "future.py": b"from __future__ import annotations\ndef f(a: undefined_name): pass\nprint(f.__annotations__)\n",
}


@pytest.mark.parametrize("held", [False, True], ids=["at once", "held"])
@pytest.mark.parametrize("start", ["spawned", "forked"])
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_script_is_compiled_as_python_compiles_it(make_run, settings, tmp_path, name, start, held):
    settings.TASKS_DIR = tmp_path
    (tmp_path / name).write_bytes(SCRIPTS[name])
    python = subprocess.run([task_python(), *INTERPRETER_FLAGS, str(tmp_path / name)], capture_output=True,
                            cwd=tmp_path)
    execution = make_run(name, start == "forked")
    if held:
        preparation.prepare_early(execution)

    result = run_execution(execution)

    assert result.return_code == python.returncode
    assert execution.read_output() == (python.stdout + python.stderr).decode()
