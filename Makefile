# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench screenshots browser prometheus redis cron venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $(STAMP)

# The product on SQLite: web pages on http://127.0.0.1:8000 and the scheduler, in the foreground.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py bootstrap
	$(PY) manage.py serve

# Debian's Chromium for the end-to-end tests (no browser downloads work here).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  echo "Installing Debian's chromium and a Chinese font for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver fonts-wqy-microhei >/dev/null; }

# Debian's Prometheus (the server and promtool) for tests/metrics/test_prometheus.py: /metrics as Prometheus reads it.
prometheus:
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
	  echo "Installing Debian's prometheus for the metrics tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus >/dev/null; }

test: venv browser prometheus
	$(PY) -m pytest

# Everything but the browser tests.
test-fast: venv
	$(PY) -m pytest -m "not e2e"

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	touch $(BENCH_STAMP)

# Debian's Redis for the django-celery-beat comparison (bench/celery_beat.py starts it when it is down).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "Installing Debian's redis-server for the django-celery-beat comparison"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# Debian's cron, the baseline of bench/system_cron.py (it starts the daemon when it is not running).
cron:
	@command -v cron >/dev/null 2>&1 || { \
	  echo "Installing Debian's cron for the system cron baseline"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cron >/dev/null; }

# The benchmark suite (about 20 minutes): one table, each figure beside its bar and baseline.
bench: venv $(BENCH_STAMP) redis cron
	$(PY) bench/run_all.py --doc docs/performance.md

# PNGs of every page into docs/screenshots/ (a throwaway database, a real server, headless Chromium).
screenshots: venv browser
	$(PY) docs/make_screenshots.py

clean:
	rm -rf $(VENV) db.sqlite3* test_db.sqlite3* staticfiles
