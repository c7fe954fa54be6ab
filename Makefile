# Everything starts from Python 3.11, pip, make and git: the first target that needs the
# environment builds it (uv in .tools/, the workspace in .venv/, Meltano plugins in .meltano/).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Python caches compiled modules (__pycache__) unless PYTHONDONTWRITEBYTECODE is set, as some machines
# and images set it. Then every process compiles all it imports again: 1-2 s of CPU for each plugin
# and Meltano process of a run, the larger part of a small run's cost. Every recipe here may cache.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help env plugins snowflake-emulator bigquery-emulator interop-plugins demo demo-list test test-fast bench lint format format-check typecheck check clean

help:
	@echo "make demo   - tap-acumatica into Delta tables through the local Acumatica and Databricks emulators"
	@echo "make demo FLOW=<flow> - any other flow of the sandbox (make demo-list names them)"
	@echo "make test   - the whole test suite (what CI runs)"
	@echo "make snowflake-emulator - the fakesnow server venv used by the Snowflake tests"
	@echo "make bigquery-emulator - the bqemulator venv used by the BigQuery tests"
	@echo "make interop-plugins - third-party Singer taps and targets, each in its own venv, for tests/interop"
	@echo "make bench  - throughput, request and memory figures of every connector"
	@echo "make lint   - ruff over the packages, tests and scripts"
	@echo "make format - rewrite the code in the project's format (ruff format)"
	@echo "make typecheck - mypy --strict over the plugins and shared packages"
	@echo "make check  - lint, format check and type check: what CI runs before the tests"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock */pyproject.toml packages/*/pyproject.toml emulators/*/pyproject.toml
	$(UV) sync --locked --python $(PYTHON)
	touch $@

env: $(VENV)/.synced

.meltano/.installed: $(VENV)/.synced meltano.yml $(wildcard meltano/*.meltano.yml)
	$(BIN)/meltano install
	touch $@

plugins: .meltano/.installed

# fakesnow in its own venv (its duckdb/sqlglot pins clash with the other emulators), with the
# statement shim of emulators/snowflake-compat. Pinned exactly: the shim relies on its internals.
FAKESNOW := $(TOOLS)/fakesnow
FAKESNOW_PINS := 'fakesnow[server]==0.12.1' duckdb==2.0.0 sqlglot==30.22.0 snowflake-connector-python==4.8.0 pyarrow==26.0.1 starlette==1.10.0 uvicorn==0.54.0

$(FAKESNOW)/.installed: $(UV) Makefile emulators/snowflake-compat/pyproject.toml $(wildcard emulators/snowflake-compat/src/*.pth emulators/snowflake-compat/src/snowflake_compat/*.py)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(FAKESNOW)
	$(UV) pip install --quiet --python $(FAKESNOW)/bin/python --reinstall-package snowflake-compat $(FAKESNOW_PINS) ./emulators/snowflake-compat
	touch $@

snowflake-emulator: $(FAKESNOW)/.installed

# bqemulator in its own venv, with the offline fixes of emulators/bigquery-compat.
BQEMULATOR := $(TOOLS)/bqemulator-venv

$(BQEMULATOR)/.installed: $(UV) emulators/bigquery-compat/setup_venv.py emulators/bigquery-compat/pyproject.toml $(wildcard emulators/bigquery-compat/src/*.pth emulators/bigquery-compat/src/bigquery_compat/*.py)
	$(PYTHON) emulators/bigquery-compat/setup_venv.py --venv $(BQEMULATOR)
	touch $@

bigquery-emulator: $(BQEMULATOR)/.installed

# Other people's Singer taps and targets, installed from the package index as a user would, each in
# its own venv (their pins clash with ours and with each other), every dependency pinned in
# tests/interop/requirements/<name>.txt. Rebuilt only when that file changes.
INTEROP := $(TOOLS)/interop
INTEROP_PLUGINS := $(basename $(notdir $(wildcard tests/interop/requirements/*.txt)))

$(INTEROP)/%/.installed: tests/interop/requirements/%.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(INTEROP)/$*
	$(UV) pip sync --quiet --python $(INTEROP)/$*/bin/python $<
	touch $@

interop-plugins: $(foreach p,$(INTEROP_PLUGINS),$(INTEROP)/$(p)/.installed)

# One flow of the sandbox with its emulators (scripts/demo.py --list); DEMO_ARGS e.g. --keep, --free-ports.
FLOW ?= acumatica-to-databricks
DEMO_NEEDS_acumatica-to-snowflake := snowflake-emulator
DEMO_NEEDS_acumatica-to-bigquery := bigquery-emulator

demo: plugins $(DEMO_NEEDS_$(FLOW))
	$(BIN)/python scripts/demo.py --flow $(FLOW) $(DEMO_ARGS)

demo-list: env
	$(BIN)/python scripts/demo.py --list

# One test worker more than the cores: many tests wait part of the time (on emulator latency, on
# plugin processes in a pipe), so a spare worker keeps the cores busy (2 cores: 7m32s with 2 workers,
# 5m48s with 3). worksteal: an idle worker takes tests queued on another, so one long file does not
# finish alone.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(len(os.sched_getaffinity(0)) + 1)")

test: plugins snowflake-emulator bigquery-emulator interop-plugins
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

test-fast: env
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not e2e"

# Each benchmark prints ratios measured in its own run. MILLION=1 adds the 1,000,000-row runs (peak
# memory at 1M against 100k; several minutes each).
BENCH_MILLION := $(if $(MILLION),--million)

bench: plugins
	$(BIN)/python bench/tap_throughput.py $(BENCH_MILLION)
	$(BIN)/python bench/tap_acumatica_parallel.py
	$(BIN)/python bench/tap_sage_intacct_throughput.py $(BENCH_MILLION)
	$(BIN)/python bench/tap_looker_throughput.py $(BENCH_MILLION)
	$(BIN)/python bench/target_databricks_load.py $(BENCH_MILLION)
	$(BIN)/python bench/target_acumatica_post.py
	$(BIN)/python bench/end_to_end.py $(BENCH_MILLION)

# What the code checks cover; .pre-commit-config.yaml runs the same three checks on commit.
CHECKED := packages emulators tap-acumatica tap-sage-intacct tap-looker target-databricks target-acumatica tests scripts bench

lint: env
	$(BIN)/ruff check $(CHECKED)

format: env
	$(BIN)/ruff format $(CHECKED)
	$(BIN)/ruff check --fix-only --quiet $(CHECKED)

format-check: env
	$(BIN)/ruff format --check $(CHECKED)

# mypy --strict over the packages listed in pyproject.toml [tool.mypy].
typecheck: env
	$(BIN)/mypy

check: lint format-check typecheck

clean:
	rm -rf $(TOOLS) $(VENV) .meltano output
