"""The rotated log files (sys.log, each task's log): a line that would take the file to LOG_MAX_BYTES starts a new
file, each record is formatted once (measuring it for the rotation formatted it a second time), and a log that is no
regular file (/dev/null) is never rotated."""
import logging
from pathlib import Path

from tasks_app.logs.setup import make_file_handler


class CountingFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s - %(levelname)s - %(name)s - %(message)s", "%Y-%m-%d %H:%M:%S")
        self.calls = 0

    def format(self, record):
        self.calls += 1
        return super().format(record)


def logger_with(handler) -> logging.Logger:
    logger = logging.Logger("rotation-test")
    logger.addHandler(handler)
    return logger


def test_each_record_is_formatted_once_and_files_roll_over_near_the_limit(tmp_path):
    handler = make_file_handler(tmp_path / "sys.log", max_bytes=2048, backup_count=3)
    handler.setFormatter(counting := CountingFormatter())
    logger = logger_with(handler)
    for i in range(150):
        logger.warning("line %d %s", i, "x" * (i % 7 * 10))
    handler.close()

    assert counting.calls == 150
    files = [tmp_path / "sys.log"] + [tmp_path / f"sys.log.{n}" for n in (1, 2, 3)]
    assert all(f.exists() for f in files)
    assert all(f.stat().st_size <= 2048 for f in files)
    assert all(f.stat().st_size > 2048 - 200 for f in files[1:])  # each was full to within a line when it rolled over
    lines = [line for f in reversed(files) for line in f.read_text().splitlines()]
    assert [int(line.split(" - ")[-1].split()[1]) for line in lines] == list(range(150 - len(lines), 150))


def test_a_log_that_is_not_a_regular_file_is_never_rolled_over():
    handler = make_file_handler("/dev/null", max_bytes=1024, backup_count=2)
    logger = logger_with(handler)
    for _ in range(100):
        logger.warning("y" * 100)
    handler.close()
    assert Path("/dev/null").is_char_device() and not Path("/dev/null.1").exists()
