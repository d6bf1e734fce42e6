# Two commands matter: `make run` and `make test`. Both install what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
ORDERBOOK := $(UV) run --frozen orderbook
PYTEST_ARGS ?=
# `make faults FAULTS_ARGS="-k s2"`; FAULTS_ORDERS=N in the environment seeds N orders a scenario.
FAULTS_ARGS ?=
# `make soak DURATION=5m`
DURATION ?= 30m
# helm, for the chart's static checks (tests/helm): built from the Go module proxy once.
HELM_VERSION := v3.22.0
TOOLS_BIN := $(HOME)/.cache/orderbook-platform/bin
HELM := $(TOOLS_BIN)/helm

.PHONY: help install uv venv core jars helm run test test-unit test-integration faults soak lint format ui bench stack-down clean

help:
	@echo "make run    install everything, start the local stack and run the platform"
	@echo "make test   install everything and run the whole test suite (unit + integration)"
	@echo "make ui     the Dagster UI (lineage, partitions, checks) on http://127.0.0.1:3000"
	@echo "make faults the fault-injection suite (docs/reliability.md); make soak DURATION=30m"
	@echo "make lint | format | bench | stack-down | clean"

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv

venv: uv
	@$(UV) sync --frozen --quiet

# The engine core compiled with mypyc (engine/build_core.py); a no-op when up to date.
core: venv
	@$(UV) run --frozen python engine/build_core.py

jars: venv
	@$(ORDERBOOK) stack fetch

# Skipped when that exact module version is already built (`go version -m` reads it back).
helm:
	@go version -m $(HELM) 2>/dev/null | grep -qE "^\s+mod\s+helm.sh/helm/v3\s+$(HELM_VERSION)\s" || { \
		echo "building helm $(HELM_VERSION) into $(TOOLS_BIN) (once; a few minutes)"; \
		GOBIN=$(TOOLS_BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); }

install: venv core jars

run: install
	@$(ORDERBOOK) run

lint: venv
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

format: venv
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

# FAULTS=short adds the short fault-injection scenarios (tests/faults) to the run.
test: install helm lint
	@FAULTS=short $(UV) run --frozen pytest $(PYTEST_ARGS)

test-unit: venv core helm
	@$(UV) run --frozen pytest -m unit $(PYTEST_ARGS)

test-integration: install
	@$(UV) run --frozen pytest -m integration $(PYTEST_ARGS)

# The whole fault-injection suite on a stack of its own; writes faults-report.json.
faults: install
	@$(UV) run --frozen pytest -m faults tests/faults $(FAULTS_ARGS)

# The whole platform under a fault every few minutes; asserts memory and lag stay flat.
soak: install
	@$(UV) run --frozen python -m tests.faults.soak --duration $(DURATION)

bench: venv core
	@for b in bench/*_bench.py; do echo "== $$b"; $(UV) run --frozen python $$b || exit 1; done

ui: install
	@$(ORDERBOOK) platform ui

stack-down: venv
	@$(ORDERBOOK) stack down

clean: stack-down
	rm -rf .orderbook .pytest_cache .ruff_cache build/engine-core engine/*.so engine/.core-build
