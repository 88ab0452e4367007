# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev

.PHONY: run test venv dev browser lint cycles serve stop cron uncron pipeline practice production data clean bench screenshots

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)
dev: $(DEV)

## browser: Debian's chromium and chromium-driver for the browser tests and screenshots, installed
## (as root, with apt-get) when missing; without them those tests are skipped and say why
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver (Debian packages) for the browser tests"; \
		apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
		echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "chromium and chromium-driver are missing and this user cannot apt-get them:" \
		"the browser tests will be skipped"; fi

## run: install, run the monitoring cycle on the shipped data (practice, then production),
## then leave the API serving on 127.0.0.1:8000
run: venv cycles serve

cycles: venv
	$(PY) fullprocess.py --config config.practice.json
	$(PY) fullprocess.py --config config.json

## serve: (re)start the API in the background on 127.0.0.1:8000; stop: stop it
serve: venv
	@mkdir -p logs
	@if [ -f .server.pid ] && kill -0 "$$(cat .server.pid)" 2>/dev/null; then \
		kill "$$(cat .server.pid)"; sleep 1; fi
	$(VENV)/bin/gunicorn --config gunicorn.conf.py --daemon --pid .server.pid \
		--access-logfile logs/access.log --error-logfile logs/api.log wsgi:app
	@$(PY) -c "import sys, time; from cycle.local_server import answers; \
		ok = any(answers('http://127.0.0.1:8000') or time.sleep(0.2) for _ in range(100)); \
		print('API serving on http://127.0.0.1:8000, dashboard on http://127.0.0.1:8000/ ' \
		'(logs/api.log; make stop to stop it)' if ok \
		else 'the API did not start: see logs/api.log'); sys.exit(0 if ok else 1)"

stop:
	@if [ -f .server.pid ] && kill -0 "$$(cat .server.pid)" 2>/dev/null; then \
		kill "$$(cat .server.pid)" && echo "API stopped"; else echo "no API running"; fi

## cron: install cronjob.txt (with this folder's path) in the user's crontab; uncron: remove it
cron: venv
	@command -v crontab >/dev/null || { echo "crontab not found: install cron (apt-get install cron)"; exit 1; }
	@mkdir -p logs
	@line="$$(sed 's|@PROJECT@|$(CURDIR)|g' cronjob.txt)"; \
	{ crontab -l 2>/dev/null | grep -vF "$(CURDIR)/fullprocess.py"; echo "$$line"; } | crontab - && \
	echo "installed: $$line"

uncron:
	@command -v crontab >/dev/null || { echo "crontab not found"; exit 1; }
	@{ crontab -l 2>/dev/null | grep -vF "$(CURDIR)/fullprocess.py"; } | crontab - && \
	echo "removed the fullprocess.py line of $(CURDIR) from the crontab"

practice: venv
	$(PY) ingestion.py --config config.practice.json
	$(PY) training.py --config config.practice.json
	$(PY) scoring.py --config config.practice.json
	$(PY) deployment.py --config config.practice.json

production: venv
	$(PY) ingestion.py
	$(PY) training.py
	$(PY) scoring.py
	$(PY) deployment.py

pipeline: practice production

## test: install with the test tools (and the browser), lint, then the whole suite, one pytest
## worker per core (TEST_WORKERS=0 runs it in one process); the 15 slowest tests are listed at the
## end, so that a test nearing 45 s shows in every run. Its ~280 Python processes (cycles, scripts,
## servers) write and reuse their bytecode even where PYTHONDONTWRITEBYTECODE is set, as an
## installed project would: else each compiled the project's modules again (about 0.1 s apiece)
TEST_WORKERS ?= auto
test: dev browser
	$(VENV)/bin/ruff check .
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

lint: dev
	$(VENV)/bin/ruff check .

## data: regenerate the shipped datasets from the seeded generator
data: venv
	$(PY) -m pipeline.data.datagen

## bench: the benchmark suite (bench/run.py) -> bench/RESULTS.md; BENCH_QUICK=1 for small sizes
bench: dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }; } || \
		echo "wrk is not installed: the API benchmark falls back to a slower Python client"
	$(PY) -m bench.run

## screenshots: the README's pictures of each page (docs/screenshots/), from the shipped story
screenshots: dev browser
	$(PY) -m tools.screenshots

## clean: remove every generated output (models, deployments, history, logs)
clean:
	find ingesteddata practicemodels models production_deployment -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -f history.sqlite* ingesteddata/seenfiles.json
	rm -rf logs
