"""The log reader: tails and live-tail polls agree with a naive reading of the whole file, and stay cheap."""
import zoneinfo
from datetime import datetime

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from tasks_app.logs import tail as logtail
from tasks_app.logs.tail import LogFilter, read_from, tail

UTC = zoneinfo.ZoneInfo("UTC")


def naive_lines(content: bytes):
    """[(offset, text, complete)] the obvious way."""
    out, pos = [], 0
    pieces = content.split(b"\n")
    for piece in pieces:
        out.append((pos, piece.decode("utf-8", "replace").rstrip("\r"), True))
        pos += len(piece) + 1
    last_offset, last_text, _ = out.pop()
    if pieces[-1]:
        out.append((last_offset, last_text, False))
    return out


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(logtail, "BLOCK", 7)
    monkeypatch.setattr(logtail, "MAX_LINE", 10_000)


lines_strategy = st.lists(st.text(alphabet="ab é\r", max_size=20), max_size=30)


@hsettings(max_examples=200, deadline=None)
@given(lines=lines_strategy, ends_with_newline=st.booleans(), count=st.integers(1, 40))
def test_a_tail_returns_the_same_lines_as_reading_the_whole_file(tmp_path_factory, lines, ends_with_newline, count):
    path = tmp_path_factory.mktemp("t") / "task.log"
    content = "\n".join(lines).encode() + (b"\n" if ends_with_newline and lines else b"")
    path.write_bytes(content)
    old = logtail.BLOCK
    logtail.BLOCK = 7  # many block boundaries inside lines
    try:
        chunk = tail(path, count)
    finally:
        logtail.BLOCK = old
    expected = naive_lines(content)[-count:]
    assert [(line.offset, line.text) for line in chunk.lines] == [(o, t) for o, t, _ in expected]
    unfinished = bool(expected) and not expected[-1][2]
    assert chunk.partial == unfinished
    assert chunk.next_offset == (expected[-1][0] if unfinished else len(content))


@hsettings(max_examples=200, deadline=None)
@given(lines=lines_strategy, ends_with_newline=st.booleans(), data=st.data())
def test_polling_from_an_offset_returns_each_line_once(tmp_path_factory, lines, ends_with_newline, data):
    path = tmp_path_factory.mktemp("t") / "task.log"
    content = "\n".join(lines).encode() + (b"\n" if ends_with_newline and lines else b"")
    path.write_bytes(content)
    limit = data.draw(st.integers(1, 5))
    max_bytes = data.draw(st.integers(30, 100))
    seen, offset = [], 0
    for _ in range(200):
        chunk = read_from(path, offset, limit=limit, max_bytes=max_bytes)
        complete = [line for line in chunk.lines if not (chunk.partial and line is chunk.lines[-1])]
        seen += [(line.offset, line.text) for line in complete]
        if chunk.next_offset == offset:
            break
        offset = chunk.next_offset
    expected = [(o, t) for o, t, done in naive_lines(content) if done]
    assert seen == expected


def test_a_tail_of_a_huge_log_reads_only_its_last_blocks(tmp_path):
    path = tmp_path / "big.log"
    with open(path, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # 200 MB, sparse: costs no disk
        f.seek(0, 2)
        for i in range(2000):
            f.write(f"2024-01-01 00:00:{i % 60:02d} - INFO - job - line {i}\n".encode())
    chunk = tail(path, 10)
    assert [line.text.rsplit(" ", 1)[1] for line in chunk.lines] == [str(i) for i in range(1990, 2000)]
    assert chunk.bytes_read <= 2 * logtail.BLOCK
    assert chunk.next_offset == chunk.size == path.stat().st_size


def test_a_tail_with_a_rare_search_stops_at_the_scan_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(logtail, "SCAN_LIMIT", 1024 * 1024)
    path = tmp_path / "big.log"
    with open(path, "wb") as f:
        for i in range(100_000):
            f.write(f"2024-01-01 00:00:00 - INFO - job - line {i}\n".encode())
    chunk = tail(path, 10, LogFilter(search="no such text"), scan_limit=logtail.SCAN_LIMIT)
    assert chunk.lines == []
    assert chunk.scan_limited and chunk.more_before
    assert chunk.bytes_read < 1024 * 1024 + 2 * logtail.BLOCK


def test_a_line_longer_than_the_limit_is_cut_but_keeps_its_timestamp(tmp_path, monkeypatch):
    monkeypatch.setattr(logtail, "BLOCK", 1000)
    monkeypatch.setattr(logtail, "MAX_LINE", 100)
    path = tmp_path / "task.log"
    long_line = "2024-01-01 10:00:00 - ERROR - job - " + "x" * 5000
    path.write_text(f"first\n{long_line}\nlast\n")
    chunk = tail(path, 3)
    assert [line.text for line in chunk.lines] == ["first", long_line[:100], "last"]
    assert chunk.lines[1].truncated and chunk.lines[1].level == "ERROR"
    assert chunk.lines[2].offset == len("first\n") + len(long_line) + 1


RECORDS = """2024-03-01 10:00:00,001 - test_task - INFO - started
2024-03-01 10:00:01,500 - test_task - WARNING - disk almost full
2024-03-01 10:00:02 - ERROR - TaskExecutor - it failed
Traceback (most recent call last):
ZeroDivisionError: division by zero
2024-03-01 10:00:03 - INFO - TaskExecutor - retrying
"""


def test_level_filter_keeps_a_traceback_with_its_error_line(tmp_path):
    path = tmp_path / "task.log"
    path.write_text(RECORDS)
    texts = [line.text for line in tail(path, 100, LogFilter(level="error")).lines]
    assert texts == [
        "2024-03-01 10:00:02 - ERROR - TaskExecutor - it failed",
        "Traceback (most recent call last):",
        "ZeroDivisionError: division by zero",
    ]
    texts = [line.text for line in read_from(path, RECORDS.index("Traceback"), flt=LogFilter(level="ERROR")).lines]
    assert texts == ["Traceback (most recent call last):", "ZeroDivisionError: division by zero"]


def test_level_filter_is_a_threshold_and_reads_both_log_formats(tmp_path):
    path = tmp_path / "task.log"
    path.write_text(RECORDS)
    levels = [line.level for line in tail(path, 100, LogFilter(level="warn")).lines]
    assert levels == ["WARNING", "ERROR", "ERROR", "ERROR"]


def test_since_and_until_read_log_times_in_the_given_zone(tmp_path):
    path = tmp_path / "task.log"
    path.write_text(RECORDS)
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    since = datetime(2024, 3, 1, 2, 0, 1, tzinfo=UTC)  # 10:00:01 in Shanghai
    until = datetime(2024, 3, 1, 2, 0, 2, tzinfo=UTC)
    flt = LogFilter(since=since, until=until, tz=shanghai)
    texts = [line.text for line in tail(path, 100, flt).lines]
    assert texts == RECORDS.splitlines()[1:5]
    assert [line.text for line in read_from(path, 0, flt=flt).lines] == [line.text for line in tail(path, 100, flt).lines]


def test_search_ignores_case(tmp_path):
    path = tmp_path / "task.log"
    path.write_text(RECORDS)
    assert [line.offset for line in tail(path, 5, LogFilter(search="DIVISION")).lines] == [RECORDS.index("ZeroDiv")]


def test_an_offset_past_the_end_means_the_file_was_rotated_and_reading_starts_over(tmp_path):
    path = tmp_path / "task.log"
    path.write_text("new file\n")
    chunk = read_from(path, 10_000)
    assert chunk.reset and [line.text for line in chunk.lines] == ["new file"] and chunk.next_offset == 9


def test_an_unfinished_last_line_is_flagged_and_polled_again(tmp_path):
    path = tmp_path / "task.log"
    path.write_bytes(b"done\nhalf")
    chunk = tail(path, 10)
    assert chunk.partial and chunk.next_offset == 5 and chunk.lines[-1].text == "half"
    with open(path, "ab") as f:
        f.write(b" and whole\n")
    chunk = read_from(path, chunk.next_offset)
    assert not chunk.partial and [line.text for line in chunk.lines] == ["half and whole"]


def test_an_unknown_level_is_refused_by_name():
    with pytest.raises(ValueError, match="'LOUD'"):
        LogFilter(level="LOUD")


@pytest.mark.parametrize("search, expected", [("ÄRGER", ["Ärger im Büro"]), ("值", ["参数 值1"]), ("BÜRO", ["Ärger im Büro"]),
                                              ("im", ["Ärger im Büro"])])
def test_search_ignores_case_beyond_ascii_and_finds_chinese(tmp_path, search, expected):
    path = tmp_path / "task.log"
    path.write_text("Ärger im Büro\n参数 值1\nother\n", encoding="utf-8")
    assert [line.text for line in tail(path, 10, LogFilter(search=search)).lines] == expected
