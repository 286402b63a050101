# Every entry point sets up what it needs first: the virtualenv with pinned packages, and the Debian packages
# (installed with apt-get when run as root; otherwise the target stops and names them).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
# REPORT: a report folder under templates/ (default: the only one, else default-report in pyproject.toml);
# EDITION: an edition of it (default: the report's default_edition in its report.toml).
REPORT ?=
EDITION ?=
export REPORT
EDITION_ARG := $(if $(EDITION),--edition $(EDITION))
HOST ?= 127.0.0.1
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

PDF_PACKAGES := fonts-noto-cjk libharfbuzz-subset0
# nodejs, npm: the npm packages the tests use (axe-core, package-lock.json), installed by the node-test target
TEST_PACKAGES := $(PDF_PACKAGES) chromium postgresql nodejs npm
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json | sha256sum | cut -c1-12)

.PHONY: report test node-test ui serve preview bench bench-click bench-backfill bench-flights faults lint lock clean system-pdf system-test venv bytecode dagster-home

## report: build and publish the default edition (REPORT=..., EDITION=...) through Dagster; prints where the files are
report: system-pdf bytecode
	$(PY) -m pipeline build $(EDITION_ARG)

## test: lint, type-check, then the whole test suite (the command CI runs)
test: system-test bytecode node-test
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

## ui: the Dagster UI on http://$(HOST):3000 (dg dev: webserver and daemon over the project's code location)
ui: system-pdf bytecode dagster-home
	$(VENV)/bin/dg dev --host $(HOST) --port 3000

## serve: the download site for the published archive on http://$(HOST):8000
serve: bytecode
	$(PY) -m pipeline.web --host $(HOST) --port 8000

## preview: rebuild on every change to templates/ or sources/, with live reload in the browser
preview: system-pdf bytecode
	$(PY) -m pipeline.preview $(EDITION_ARG) --host $(HOST)

## bench: the performance benchmark; writes benchmarks/RESULTS.md
bench: system-test bytecode
	$(PY) benchmarks/run.py

## bench-click: an edition launched through the real UI server (dagster dev) until it succeeds, against the floor
bench-click: system-test bytecode
	$(PY) benchmarks/ui_click.py

## bench-backfill: backfill throughput of the team profile's run queue (20 editions, 1 then 2 at a time)
bench-backfill: system-test bytecode
	$(PY) benchmarks/backfill.py

## bench-flights: the NYC flights report against its floors (ingest, monthly build, growth to 30x, pages, backfill); writes benchmarks/FLIGHTS.md
bench-flights: system-test bytecode
	$(PY) benchmarks/flights.py

## faults: run the bad-input and fault tests and regenerate docs/faults.md from their results
faults: system-test bytecode
	$(PY) scripts/fault_table.py

lint: venv
	$(PY) -m ruff check .

## lock: re-resolve requirements.in into requirements.lock (exact versions, no download URLs)
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements.in
	.lock-venv/bin/pip freeze --all --exclude-editable | grep -v -e '^-e' -e '^pip==' > requirements.lock
	rm -rf .lock-venv

venv: $(STAMP)

## bytecode: compiled bytecode of the project's own modules (pipeline/, the reports' Python), kept next to them.
## Python writes it on first import unless PYTHONDONTWRITEBYTECODE is set, as in some shells and CI images; then
## every build process would compile some eighty modules again. Up-to-date files are skipped; a stale one is
## ignored by Python and compiled in memory, so this can only save time.
bytecode: venv
	@$(PY) -m compileall -q pipeline templates

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is required; found $$($(PYTHON) --version 2>&1)"; exit 1; }
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || scripts/ensure-system-packages.sh python3-venv
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

## node-test: the pinned npm packages of package-lock.json in node_modules/ (again when the lock changes)
node-test: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@rm -f node_modules/.installed-* && touch $@

dagster-home:
	@mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml \
	  || cp deploy/local/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

system-pdf:
	@scripts/ensure-system-packages.sh $(PDF_PACKAGES)

system-test:
	@scripts/ensure-system-packages.sh $(TEST_PACKAGES)

clean:
	rm -rf reports .dagster_home .pytest_cache node_modules
