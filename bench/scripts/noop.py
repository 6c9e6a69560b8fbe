import time; _STAMP_NS = time.time_ns()  # noqa: E702  first instruction: when the script started
"""The /bin/true-like benchmark script: records when it started, then does nothing."""
import os

_dir = os.environ.get("BENCH_STAMP_DIR")
if _dir:
    with open(os.path.join(_dir, f"{os.environ.get('TASK_ID', 'bare')}.{os.getpid()}"), "w") as f:
        f.write(f"{_STAMP_NS} {os.environ.get('TASK_ID', '')} {os.environ.get('TASK_EXECUTION_ID', '')}\n")
