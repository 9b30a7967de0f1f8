# workbench — type `make help` for the list of targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= data/demo
CUSTOMERS ?= 2000

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint bench lab lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "workbench needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/nbstripout --install --attributes .gitattributes 2>/dev/null || true
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project with pinned versions

demo: $(STAMP) ## set up, generate the demo migration in data/demo and run every stage notebook
	$(BIN)/workbench demo --out $(DEMO_DIR) --customers $(CUSTOMERS)

lint: $(STAMP) ## ruff (with complexity bound), import-linter layer contracts, mypy, notebook house rules
	$(BIN)/ruff check workbench tests benchmarks notebooks
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m workbench.devtools.check_notebooks notebooks

test: $(STAMP) lint ## set up, lint, then run the whole test suite (notebook smoke tests included)
	$(BIN)/pytest -q -n 2 --dist loadgroup

bench: $(STAMP) ## run the benchmarks (slow; installs ydata-profiling for the baseline)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

CONFIG ?= $(DEMO_DIR)/workbench.yaml
lab: $(STAMP) ## open JupyterLab on the stage notebooks of CONFIG (default: the demo project)
	WORKBENCH_CONFIG=$(abspath $(CONFIG)) $(BIN)/jupyter lab notebooks/

lock: ## re-resolve dependencies in a scratch venv and rewrite constraints.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q --upgrade pip
	.venv-lock/bin/python -m pip install -q -e '.[dev,bench]'
	.venv-lock/bin/python -m pip freeze --exclude-editable > constraints.txt
	rm -rf .venv-lock

clean: ## remove outputs and the generated demo data (keeps .venv)
	rm -rf output $(DEMO_DIR) .pytest_cache
