"""The benchmark scripts still run: the ones that need no cron minute run for real at tiny sizes ("--smoke");
the minute-bound ones (punctuality, burst, celery_beat) are compiled only. Never a timed test: the
figures are not checked, only that each script produces its table rows."""
import json
import os
import py_compile
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def run_bench(name, results_dir, *args, timeout=120):
    env = {**os.environ, "BENCH_RESULTS_DIR": str(results_dir)}
    env.pop("DATABASE_URL", None)  # the benchmarks make their own SQLite database
    proc = subprocess.run([sys.executable, str(BENCH / name), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def rows_of(results_dir, name):
    payload = json.loads((results_dir / f"{name}.smoke.json").read_text())
    assert payload["smoke"] is True
    assert payload["machine"]["cpus"] >= 1
    return payload["rows"]


@pytest.mark.slow
def test_the_scale_benchmark_starts_the_real_scheduler_and_reports_every_figure(tmp_path):
    run_bench("scale.py", tmp_path, "--smoke")
    rows = rows_of(tmp_path, "scale")
    assert len(rows) == 6
    ready = next(r for r in rows if "ready after start" in r["measurement"])
    restart = next(r for r in rows if "ready after a restart" in r["measurement"])
    assert ready["engine_value"] > 0 and restart["engine_value"] > 0
    assert all(r["result"] in ("PASS", "FAIL", "n/a") for r in rows)


@pytest.mark.slow
def test_the_recovery_benchmark_records_every_missed_slot_of_a_day_down_and_checks_the_counts(tmp_path):
    run_bench("recovery.py", tmp_path, "--smoke")
    recorded, ready = rows_of(tmp_path, "recovery")
    assert "every missed slot recorded" in recorded["measurement"] and recorded["engine_value"] > 0
    # about a day of minutes per task (1,441 if the records straddle a minute), each checked against the clock
    assert re.search(r"missed slots 144[01]-144[01] per task, 0 miscounted", ready["measurement"])


@pytest.mark.slow
def test_the_web_benchmark_fills_a_database_and_times_pages_and_api(tmp_path):
    run_bench("web.py", tmp_path, "--smoke")
    rows = rows_of(tmp_path, "web")
    assert len(rows) == 11
    assert [r for r in rows if "/metrics" in r["measurement"]][1]["measurement"].startswith("6. /metrics: the first")
    assert all(r["engine_value"] > 0 and r["baseline_value"] > 0 for r in rows)


@pytest.mark.slow
def test_the_web_load_benchmark_sends_mixed_requests_to_the_real_serve_and_reports_three_rows(tmp_path):
    proc = run_bench("web_load.py", tmp_path, "--smoke")
    rows = rows_of(tmp_path, "web_load")
    assert [r["measurement"].split(":")[0] for r in rows] == ["9. web under load (4 clients, mixed API, 5 tasks "
                                                              "firing in the minute)", "9. same load", "9. same load"]
    assert rows[0]["engine_value"] > 0 and rows[0]["baseline_value"] > 0
    details = json.loads((tmp_path / "web_load.smoke.json").read_text())["details"]
    assert details["engine"]["errors"] == 0 and details["baseline"]["errors"] == 0
    assert set(details["engine"]["count_by_kind"]) == {"list", "read", "history", "edit", "run now"}
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_ops_benchmark_times_the_dashboard_and_a_bulk_enable_with_the_real_scheduler(tmp_path):
    run_bench("ops.py", tmp_path, "--smoke")
    rows = rows_of(tmp_path, "ops")
    assert len(rows) == 6
    assert all(r["engine_value"] > 0 for r in rows)
    assert any("until the scheduler has scheduled all" in r["measurement"] for r in rows)


def test_run_all_prints_one_table_from_the_results(tmp_path):
    row = {"measurement": "6. page: a task's execution history", "engine": "9 ms", "baseline": "2 ms",
           "ratio": "4.50x", "bar": "<= 50 ms", "result": "PASS", "engine_value": 9.0, "baseline_value": 2.0}
    (tmp_path / "web.smoke.json").write_text(json.dumps({"rows": [row], "smoke": True}))
    proc = run_bench("run_all.py", tmp_path, "--smoke", "--table", "--doc", str(tmp_path / "perf.md"))
    assert "| measurement | engine | baseline | ratio | bar | result |" in proc.stdout
    assert "page: a task's execution history" in proc.stdout
    assert "| punctuality: not run yet |" in proc.stdout
    assert "Machine: " in (tmp_path / "perf.md").read_text()


def test_run_all_rewrites_only_the_table_block_of_the_performance_page(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\nintro\n<!-- bench:table -->\nold table\n<!-- /bench:table -->\nnotes\n")
    run_bench("run_all.py", tmp_path, "--smoke", "--table", "--doc", str(doc))
    text = doc.read_text()
    assert text.startswith("# Performance\nintro\n<!-- bench:table -->\nMachine: ")
    assert "old table" not in text and text.endswith("<!-- /bench:table -->\nnotes\n")


def test_the_bare_baselines_time_a_spawn_and_a_pool_of_the_same_script():
    sys.path.insert(0, str(BENCH))
    try:
        from baselines import bare_pool, bare_spawn_latencies
    finally:
        sys.path.remove(str(BENCH))
    latencies = bare_spawn_latencies("noop.py", runs=2)
    assert len(latencies) == 2 and all(0 < ms < 5000 for ms in latencies)
    pool = bare_pool("typical.py", count=4, workers=2)
    assert pool["started"] == 4 and pool["start_rate_per_s"] > 0


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.rglob("*.py")))
def test_every_benchmark_script_compiles(script, tmp_path):
    (path,) = [p for p in BENCH.rglob(script)]
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)


def bench_module(name):
    sys.path.insert(0, str(BENCH))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCH))


def test_punctuality_reads_a_run_handed_over_alone_and_the_runs_of_a_slot_handed_over_together():
    punctuality, common = bench_module("punctuality"), bench_module("common")

    class Output:
        log_times, log_lines = common.SchedulerProcess.log_times, common.SchedulerProcess.log_lines

        def output(self):
            return ("2026-11-30 03:00:00.002 - INFO - Scheduler - Task solo: execution 1 starts (manual, attempt 1)\n"
                    "2026-11-30 03:01:00.001 - INFO - Scheduler - 2 executions start: schedule for slot "
                    "2026-11-30T03:01:00+00:00: task a-1 execution 2, task b execution 3 (attempt 2)\n")

    found = punctuality.handed_over(Output())

    assert sorted(found) == ["a-1", "b", "solo"]
    assert found["a-1"] == found["b"] and found["b"].microsecond == 1000


def test_system_cron_compares_itself_with_the_engine_of_the_same_make_bench_only(tmp_path, monkeypatch):
    system_cron = bench_module("system_cron")
    monkeypatch.setattr(system_cron, "RESULTS_DIR", tmp_path)
    engine = {"run": "2026-11-30T03:00:00", "rows": [], "details": {"punctuality_start_ms": [10.0] * 90 + [40.0] * 10}}
    (tmp_path / "punctuality.json").write_text(json.dumps(engine))
    cron = [500.0] * 100

    monkeypatch.setenv("BENCH_RUN", "2026-11-30T03:00:00")
    assert system_cron.against_engine(cron)["result"] == "PASS"
    assert system_cron.against_engine([20.0] * 100)["result"] == "FAIL"  # the engine's p99 is behind cron's
    monkeypatch.setenv("BENCH_RUN", "another run")
    other = system_cron.against_engine(cron)
    assert other["result"] == "n/a" and "not run in this make bench" in other["measurement"]


def test_the_celery_executor_benchmark_says_so_without_postgresql_and_sets_each_row_beside_the_local_executor(
        tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_POSTGRES_URL", raising=False)
    run_bench("celery_exec.py", tmp_path, "--smoke")
    (only,) = rows_of(tmp_path, "celery_exec")
    assert "BENCH_POSTGRES_URL not set" in only["measurement"] and only["result"] == "n/a"

    celery_exec = bench_module("celery_exec")
    found = {"local": {"launch_ms": [20.0, 30.0, 40.0], "records_per_s": 50.0},
             "celery": {"launch_ms": [300.0, 100.0, 200.0], "records_per_s": 25.0}}
    launch, rate = celery_exec.rows_for(found)
    assert launch["measurement"].startswith("5c. Celery executor") and (launch["engine_value"],
                                                                        launch["baseline_value"]) == (200.0, 30.0)
    assert (rate["engine_value"], rate["baseline_value"], rate["ratio"]) == (25.0, 50.0, "0.50x")


@pytest.mark.slow
def test_the_web_ladder_measures_each_rung_in_process_and_the_cost_around_the_handler(tmp_path):
    proc = run_bench("web_ladder.py", tmp_path, "--smoke")
    rows = rows_of(tmp_path, "web_ladder")
    names = [r["measurement"].split(" (")[0] for r in rows]
    assert names[:9] == ["9l. CPU per request, " + rung for rung in (
        "minimal view", "DRF constant", "DRF + one query", "list", "read", "history", "run now", "edit",
        "line 9's mix {'list': 20, 'read': 35, 'history': 25, 'edit': 12, 'run now': 8}")]
    assert all(r["engine_value"] > 0 for r in rows)
    details = json.loads((tmp_path / "web_ladder.smoke.json").read_text())["details"]
    assert set(details["served_ms"]) == {"/bench/minimal", "/bench/drf-constant"}
    # every request of every rung was answered (the script refuses to report otherwise)
    assert all(set(statuses) <= {"200", "201", "202"} for statuses in details["statuses"].values())
    assert "Traceback" not in proc.stdout + proc.stderr
