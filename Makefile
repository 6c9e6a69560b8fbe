# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench screenshots browser venv clean

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

test: venv browser
	$(PY) -m pytest

# Everything but the browser tests.
test-fast: venv
	$(PY) -m pytest -m "not e2e"

bench: venv
	$(PY) bench/run_all.py

# PNGs of every page into docs/screenshots/ (a throwaway database, a real server, headless Chromium).
screenshots: venv browser
	$(PY) docs/make_screenshots.py

clean:
	rm -rf $(VENV) db.sqlite3* test_db.sqlite3* staticfiles
