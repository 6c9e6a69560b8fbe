"""Atomic, locked JSON files: a writer killed mid-write never leaves a torn file; writers never lose updates."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tasks_app.conffile import jsonfile

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    from tasks_app.conffile import jsonfile
    path = sys.argv[1]
    # Serialized once, so nearly all of the loop's time is spent inside the atomic write being tested.
    texts = [jsonfile.dumps({"tasks": [{"task_id": f"t{i}", "task_name": "测试任务" * 8, "n": n}
                                       for i in range(8000)]}) for n in (1, 2)]
    print("ready", flush=True)
    i = 0
    while True:
        jsonfile.write_text_atomic(path, texts[i % 2])
        i += 1
""")

INCREMENTER = textwrap.dedent("""
    import sys
    from tasks_app.conffile import jsonfile
    path, times = sys.argv[1], int(sys.argv[2])
    for _ in range(times):
        with jsonfile.locked(path):
            data = jsonfile.read_json(path, {"count": 0})
            data["count"] += 1
            jsonfile.write_json_atomic(path, data)
""")


def python(code, *args):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)


def test_it_writes_utf8_with_chinese_readable_indented_and_with_a_trailing_newline(tmp_path):
    path = tmp_path / "tasks.json"
    jsonfile.write_json_atomic(path, {"tasks": [{"task_id": "a", "task_name": "测试任务", "task_env": {}}]})
    text = path.read_bytes().decode("utf-8")
    assert '"task_name": "测试任务"' in text
    assert "\\u" not in text
    assert text.endswith("}\n")
    assert text.startswith('{\n  "tasks": [\n    {\n      "task_id": "a",')
    assert jsonfile.read_json(path) == {"tasks": [{"task_id": "a", "task_name": "测试任务", "task_env": {}}]}


def test_read_json_returns_the_default_for_a_missing_file(tmp_path):
    assert jsonfile.read_json(tmp_path / "missing.json", {"tasks": []}) == {"tasks": []}


def test_a_new_file_is_private_whatever_the_umask_and_a_replaced_one_keeps_its_permissions(tmp_path):
    path = tmp_path / "tasks.json"
    old_umask = os.umask(0o022)
    try:
        jsonfile.write_json_atomic(path, {"a": 1})
    finally:
        os.umask(old_umask)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tasks.json.lock").stat().st_mode & 0o777 == 0o600
    os.chmod(path, 0o640)
    jsonfile.write_json_atomic(path, {"a": 2})
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_leaves_the_old_or_the_new_file_never_a_torn_one(tmp_path):
    path = tmp_path / "tasks.json"
    jsonfile.write_json_atomic(path, {"tasks": []})
    seen = set()
    rng = random.Random(20230717)
    iterations = 60
    torn_writes = 0
    for _ in range(iterations):
        writer = python(WRITER, path)
        assert writer.stdout.readline().strip() == "ready"
        # A random moment inside the write loop: each write of ~0.6 MB takes a few milliseconds.
        try:
            writer.wait(timeout=rng.uniform(0.0, 0.1))
        except subprocess.TimeoutExpired:
            pass
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
        # Killed inside a write: its temp file is left behind (the next writer removes it).
        torn_writes += bool(list(tmp_path.glob(".tasks.json.*.tmp")))
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["tasks"]:
            assert len(data["tasks"]) == 8000
            numbers = {task["n"] for task in data["tasks"]}
            assert len(numbers) == 1
            seen.add(numbers.pop())
        else:
            seen.add(0)
    print(f"{iterations} kills, {torn_writes} inside a write, contents seen: {sorted(seen)}")
    assert torn_writes >= iterations // 4
    assert {1, 2} <= seen
    # The lock of a killed writer is released by the kernel: the next write does not hang, and it
    # clears the temp file the killed one left.
    jsonfile.write_json_atomic(path, {"tasks": []})
    assert jsonfile.read_json(path) == {"tasks": []}
    assert list(tmp_path.glob("*.tmp")) + list(tmp_path.glob(".*.tmp")) == []


def test_locked_read_modify_writes_from_several_processes_lose_no_update(tmp_path):
    path = tmp_path / "counter.json"
    workers = [python(INCREMENTER, path, 40) for _ in range(3)]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
        worker.stdout.close()
    assert jsonfile.read_json(path) == {"count": 120}
