# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev

.PHONY: run test venv dev lint pipeline practice production data clean

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

## run: install, run the pipeline on the shipped data (practice, then production)
run: venv pipeline

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

## test: install with the test tools, lint, then the whole suite
test: dev
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: dev
	$(VENV)/bin/ruff check .

## data: regenerate the shipped datasets from the seeded generator
data: venv
	$(PY) -m pipeline.datagen

clean:
	find ingesteddata practicemodels models production_deployment -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -f history.sqlite*
