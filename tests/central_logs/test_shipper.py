"""The worker's log shipper, driven round by round over real files and the database: it ships what a run writes
to its task's log (from where the log was when the run began) and its output, masked, through a rotation, a cut
of the output and a log written faster than it can be shipped."""
import os
import threading
from types import SimpleNamespace

import pytest

from tasks_app.definition.paths import task_log_file
from tasks_app.engine.trouble import DatabaseTrouble
from tasks_app.engine.workers.shipper import LogShipper
from tasks_app.logs.tail import tail
from tasks_app.models import ExecutionLogChunk, ExecutionStatus, TaskExecution
from tasks_app.secrets import keys

SECRET = "s3cr3t-pa55word"


@pytest.fixture
def shipper(transactional_db):
    # transactional: the shipper closes old connections before its rounds, as a worker's threads do
    node = SimpleNamespace(name="w1@test:1", _done=threading.Event(), trouble=DatabaseTrouble())
    return LogShipper(node)


def central_lines(task):
    log = ExecutionLogChunk.task_log(task.pk)
    return [line.text for line in tail(log, 1000).lines] if log else []


def write(path, text, mode="a"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode, encoding="utf-8") as f:
        f.write(text)


def test_a_run_ships_the_lines_written_to_its_task_log_after_it_began_and_its_output(task, run, shipper):
    log_path = task_log_file(task)
    write(log_path, "a line of an earlier run, shipped by nobody\n")
    shipper.begin(run)
    write(log_path, "2024-03-01 10:00:00 - INFO - TaskExecutor - Execution starting\n")
    write(run.output_path, "hello from the script\n")
    assert shipper.ship_round() == 2
    assert central_lines(task) == ["2024-03-01 10:00:00 - INFO - TaskExecutor - Execution starting"]
    assert run.read_output() == "hello from the script\n"
    write(log_path, "second line\n")
    write(run.output_path, "no newline yet")
    shipper.ship_round()
    assert central_lines(task)[-1] == "second line"
    write(run.output_path, ", now there is\n")
    shipper.finish(run, truncated=False)
    assert run.read_output() == "hello from the script\nno newline yet, now there is\n"
    assert shipper.ship_round() == 0, "a finished run is no longer followed"


def test_secrets_are_masked_in_what_is_shipped_even_when_a_round_cuts_them(task, run, shipper):
    task.task_env = {"DB_PASSWORD": keys.seal(SECRET)}
    task.save()
    run.refresh_from_db()
    log_path = task_log_file(task)
    shipper.begin(run)
    write(log_path, f"connecting with {SECRET}\nthen {SECRET[:6]}")
    shipper.ship_round()
    write(log_path, f"{SECRET[6:]} again\n")
    shipper.finish(run, truncated=False)
    stored = b"".join(bytes(d) for d in ExecutionLogChunk.objects.values_list("data", flat=True))
    assert SECRET.encode() not in stored and SECRET[6:].encode() not in stored
    assert stored == b"connecting with ***\nthen *** again\n"


def test_a_rotated_log_is_read_to_its_end_and_then_the_new_file_from_its_start(task, run, shipper):
    log_path = task_log_file(task)
    shipper.begin(run)
    write(log_path, "before the rotation\n")
    shipper.ship_round()
    write(log_path, "last line of the old file\n")
    os.rename(log_path, f"{log_path}.1")
    write(log_path, "first line of the new file\n")
    shipper.ship_round()
    assert central_lines(task) == ["before the rotation", "last line of the old file", "first line of the new file"]


def test_an_output_cut_to_its_limit_starts_again_and_a_cut_at_the_end_is_shipped_as_the_file_is(task, run, shipper):
    shipper.begin(run)
    write(run.output_path, "x" * 5000 + "\n")
    shipper.ship_round()
    write(run.output_path, "[output truncated: kept the last 10 bytes]\nkept tail\n", mode="w")  # cut in place
    shipper.ship_round()
    assert run.read_output() == "[output truncated: kept the last 10 bytes]\nkept tail\n"
    write(run.output_path, "more\n")
    write(run.output_path, "[output truncated: kept the last 5 bytes]\nmore\n", mode="w")  # the end's cut
    shipper.finish(run, truncated=True)
    assert run.read_output() == run.output_path.read_text()


def test_a_log_written_faster_than_it_is_shipped_keeps_its_newest_bytes_and_says_what_was_skipped(
        task, run, shipper, settings):
    settings.LOG_MAX_BYTES, settings.LOG_BACKUP_COUNT = 4096, 0
    log_path = task_log_file(task)
    shipper.begin(run)
    write(log_path, "".join(f"line {n:05}\n" for n in range(10_000)))  # 110 kB at once
    shipper.finish(run, truncated=False)
    lines = central_lines(task)
    assert lines[-1] == "line 09999"
    assert any("bytes of this log were written faster than they could be copied" in line for line in lines)
    log = ExecutionLogChunk.task_log(task.pk)
    assert log.size - log.floor <= 4096


def test_two_runs_of_one_task_on_a_worker_ship_its_log_once(task, run, shipper):
    other = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node="w1@test:1")
    log_path = task_log_file(task)
    shipper.begin(run)
    shipper.begin(other)
    write(log_path, "written while both run\n")
    shipper.finish(run, truncated=False)
    write(log_path, "written after the first ended\n")
    shipper.finish(other, truncated=False)
    assert central_lines(task) == ["written while both run", "written after the first ended"]


def test_a_log_truncated_in_place_goes_on_from_its_new_start(task, run, shipper):
    log_path = task_log_file(task)
    shipper.begin(run)
    write(log_path, "before copytruncate\n")
    shipper.ship_round()
    write(log_path, "", mode="w")  # logrotate's copytruncate
    write(log_path, "after\n")
    shipper.finish(run, truncated=False)
    assert central_lines(task) == ["before copytruncate", "after"]


def test_the_rest_of_a_run_the_database_refused_at_its_end_is_shipped_by_the_next_round(task, run, shipper,
                                                                                        monkeypatch):
    from django.db import OperationalError

    log_path = task_log_file(task)
    shipper.begin(run)
    write(log_path, "last words\n")
    write(run.output_path, "last output\n")
    real = ExecutionLogChunk.without_waiting_for_the_disk

    def database_gone():
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(ExecutionLogChunk, "without_waiting_for_the_disk", staticmethod(database_gone))
    with pytest.raises(OperationalError):
        shipper.finish(run, truncated=False)
    assert ExecutionLogChunk.objects.count() == 0
    monkeypatch.setattr(ExecutionLogChunk, "without_waiting_for_the_disk", staticmethod(real))
    assert shipper.ship_round() == 2
    assert central_lines(task) == ["last words"] and run.read_output() == "last output\n"
    assert shipper.ship_round() == 0


def test_a_run_deleted_while_it_goes_drops_its_output_and_leaves_its_log_lines_to_the_task(task, run, shipper):
    log_path = task_log_file(task)
    shipper.begin(run)
    write(log_path, "written before the run was deleted\n")
    write(run.output_path, "output of a deleted run\n")
    TaskExecution.objects.filter(pk=run.pk).delete()
    assert shipper.ship_round() >= 1, "the round goes on; nothing blocks the other runs' shipping"
    assert central_lines(task) == ["written before the run was deleted"]
    assert not ExecutionLogChunk.objects.filter(stream="output").exists()
    assert ExecutionLogChunk.objects.get().execution_id is None


def test_a_task_deleted_while_its_run_goes_leaves_nothing_behind(task, run, shipper):
    shipper.begin(run)
    write(task_log_file(task), "a line\n")
    write(run.output_path, "an output line\n")
    task.delete()
    shipper.ship_round()
    shipper.finish(run, truncated=False)
    assert not ExecutionLogChunk.objects.exists()


def test_wherever_rounds_cut_a_stream_no_form_of_a_secret_reaches_the_database(task, shipper):
    import random

    from tasks_app.secrets.masking import Masker

    task.task_env = {"TOKEN": keys.seal(SECRET)}
    task.save()
    forms = sorted(Masker([SECRET])._forms, key=len)
    rng = random.Random(12)
    for case in range(25):
        run = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node="w1@test:1")
        text = "".join(f"line {n}: {rng.choice(forms)} and {rng.choice(forms)}\n" for n in range(20)).encode()
        shipper.begin(run)
        cuts = sorted(rng.sample(range(1, len(text)), 12))
        for a, b in zip([0, *cuts], [*cuts, len(text)]):
            write(run.output_path, text[a:b].decode("utf-8"))
            shipper.ship_round()
        shipper.finish(run, truncated=False)
        # The rows as stored, not as a reader shows them (readers mask once more).
        stored = b"".join(bytes(data) for data in ExecutionLogChunk.objects.filter(
            execution=run, stream="output").order_by("offset").values_list("data", flat=True))
        assert stored == Masker([SECRET]).bytes(text), f"case {case}"
        assert not any(form.encode() in stored for form in forms)
