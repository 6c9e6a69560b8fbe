"""The chunk store: a central log read through ChunkFile gives the same lines, offsets and cursors as the same
bytes in a file; it keeps what the rotated files would keep; a run's output follows its file's cuts and goes
with its run."""
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tasks_app.engine.housekeeping import prune_history
from tasks_app.logs import tail as logtail
from tasks_app.logs.tail import LogFilter, read_from, tail
from tasks_app.models import ExecutionLogChunk, ExecutionStatus, LogStream, TaskExecution
from tasks_app.models import logchunk

from .conftest import ship_log

LOG = (b"2024-03-01 10:00:00 - INFO - TaskExecutor - Execution 1 starting\n"
       b"2024-03-01 10:00:01 - test_task - WARNING - disk almost full\n"
       b"2024-03-01 10:00:02 - ERROR - TaskExecutor - it failed\n"
       b"Traceback (most recent call last):\n"
       b"ZeroDivisionError: division by zero\n"
       b"2024-03-01 10:00:03 - INFO - TaskExecutor - Execution 1 finished: success\n")


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks, blocks and fetch windows of a few bytes, so every read crosses chunk boundaries."""
    monkeypatch.setattr(logchunk, "CHUNK_MAX", 16)
    monkeypatch.setattr(logchunk, "READ_WINDOW", 40)
    monkeypatch.setattr(logtail, "BLOCK", 7)


def as_tuples(chunk):
    return [(line.offset, line.text, line.level) for line in chunk.lines], chunk.next_offset, chunk.more_before


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, len(LOG) - 1), max_size=40), count=st.integers(1, 8),
       level=st.sampled_from([None, "WARNING", "ERROR"]))
def test_a_central_log_reads_as_the_same_bytes_in_a_file_would(task, run, small_chunks, tmp_path, cuts, count,
                                                                level):
    ExecutionLogChunk.objects.all().delete()
    # Pieces of at most CHUNK_MAX bytes, wherever the shipper's rounds cut them (mid-line, mid-character).
    cuts = sorted(set(cuts) | set(range(16, len(LOG), 16)))
    ship_log(task, run, LOG, cuts)
    path = tmp_path / "task.log"
    path.write_bytes(LOG)
    flt = LogFilter(level=level)
    assert as_tuples(tail(ExecutionLogChunk.task_log(task.pk), count, flt=flt)) == \
        as_tuples(tail(path, count, flt=flt))
    for offset in (0, 10, LOG.index(b"Traceback"), len(LOG)):
        assert as_tuples(read_from(ExecutionLogChunk.task_log(task.pk), offset, flt=flt)) == \
            as_tuples(read_from(path, offset, flt=flt))


def test_runs_on_two_workers_append_one_after_the_other_and_a_live_tail_continues_across(task, run):
    other = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node="w2@test:2")
    ExecutionLogChunk.append_log(task.pk, run.pk, [b"first run line 1\n"], 0)
    cursor = read_from(ExecutionLogChunk.task_log(task.pk), 0).next_offset
    ExecutionLogChunk.append_log(task.pk, other.pk, [b"second run line 1\n"], 0)
    ExecutionLogChunk.append_log(task.pk, run.pk, [b"first run line 2\n"], 1)
    polled = read_from(ExecutionLogChunk.task_log(task.pk), cursor)
    assert [line.text for line in polled.lines] == ["second run line 1", "first run line 2"]
    offsets = list(ExecutionLogChunk.objects.order_by("offset").values_list("offset", "size"))
    assert all(a + size == b for (a, size), (b, _) in zip(offsets, offsets[1:])), "no gap, no overlap"


def test_a_central_log_keeps_what_its_rotated_files_would_and_says_nothing_older_remains(task, run, settings):
    settings.LOG_MAX_BYTES, settings.LOG_BACKUP_COUNT = 1024, 1  # the file and one backup: 2 KiB
    line = b"2024-03-01 10:00:00 - INFO - x - " + b"y" * 57 + b"\n"  # 91 bytes
    for number in range(100):
        ExecutionLogChunk.append_log(task.pk, run.pk, [line], number)
    log = ExecutionLogChunk.task_log(task.pk)
    kept = log.size - log.floor
    assert 2048 <= kept < 2048 + len(line)  # whole chunks go: at most one more than the cap stays
    everything = tail(log, 1000)
    assert len(everything.lines) == kept // len(line) and not everything.more_before
    assert everything.lines[0].offset == log.floor
    # A cursor from before the oldest kept byte goes on from there.
    assert read_from(ExecutionLogChunk.task_log(task.pk), 0).lines[0].offset == log.floor


def test_a_runs_output_starts_again_when_its_file_was_cut_and_reads_as_the_run_page_shows_it(run):
    seq = ExecutionLogChunk.append_output(run.task_id, run.pk, [b"line %d\n" % n for n in range(5)], 0)
    assert run.output_tail(lines=2) == ("line 3\nline 4", True)
    ExecutionLogChunk.append_output(run.task_id, run.pk, [b"[output truncated: kept the last 7 bytes]\n",
                                                            b"line 9\n"], seq, restart=True)
    assert run.read_output() == "[output truncated: kept the last 7 bytes]\nline 9\n"
    assert run.output_tail(max_bytes=7) == ("line 9\n", True)
    with run.open_output() as f:
        assert f.read() == b"[output truncated: kept the last 7 bytes]\nline 9\n"


def test_a_runs_output_goes_with_it_and_its_log_lines_stay_in_the_tasks_log(task, run):
    run.status = ExecutionStatus.SUCCESS
    run.save()
    newer = [TaskExecution.objects.create(task=task, status=ExecutionStatus.SUCCESS) for _ in range(2)]
    ExecutionLogChunk.append_output(task.pk, run.pk, [b"output of the old run\n"], 0)
    ExecutionLogChunk.append_log(task.pk, run.pk, [b"log line of the old run\n"], 0)
    ExecutionLogChunk.append_output(task.pk, newer[-1].pk, [b"output of the newest run\n"], 0)
    result = prune_history(keep=2)
    assert result["by_count"] == 1
    assert not ExecutionLogChunk.objects.filter(stream=LogStream.OUTPUT, execution_id=run.pk).exists()
    assert ExecutionLogChunk.objects.filter(stream=LogStream.OUTPUT, execution__isnull=True).count() == 0
    assert [line.text for line in tail(ExecutionLogChunk.task_log(task.pk)).lines] == ["log line of the old run"]
    assert newer[-1].read_output() == "output of the newest run\n"


def test_a_task_without_shipped_chunks_has_no_central_log(task, run):
    assert ExecutionLogChunk.task_log(task.pk) is None and ExecutionLogChunk.run_output(run.pk) is None


def test_a_download_that_the_size_cap_overtakes_goes_on_from_what_is_kept_without_repeating_bytes(task, run,
                                                                                                  settings):
    # Read from its start while the worker's new chunks push the oldest ones out: the reader went on as if the
    # bytes kept had been where it was, and the next fetch gave some of them a second time.
    settings.LOG_MAX_BYTES, settings.LOG_BACKUP_COUNT = 100_000, 0
    first = b"".join(b"line %06d\n" % i for i in range(8000))  # 96,000 bytes, 12 a line
    ExecutionLogChunk.append_log(task.pk, run.pk, [first[i:i + 16_000] for i in range(0, len(first), 16_000)], 0)
    log = ExecutionLogChunk.task_log(task.pk)
    assert (log.floor, log.size) == (0, 96_000)
    more = b"".join(b"more %06d\n" % i for i in range(3000))
    ExecutionLogChunk.append_log(task.pk, run.pk, [more[i:i + 16_000] for i in range(0, len(more), 16_000)], 6)
    kept = ExecutionLogChunk.objects.filter(task=task, stream=LogStream.LOG).order_by("offset").first().offset
    assert kept == 32_000  # two chunks went
    pieces = []
    while True:
        piece = log.read(10_000)
        if not piece:
            break
        pieces.append(piece)
    assert b"".join(pieces) == first[kept:] and log.tell() == 96_000 and log.floor == kept
