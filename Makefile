# Shortcuts for the project's scripts. `make help` lists them.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff

.PHONY: help test lint bench local up

help:
	@echo "make test   - the whole test suite (./scripts/test.sh; ARGS='tests/unit -q' passes pytest arguments)"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make bench  - bench/etl_bench.py, bench/api_bench.py, bench/lb_bench.py"
	@echo "make local  - run the API and the dashboard without Docker (./scripts/local.sh)"
	@echo "make up     - build and start the stack with Docker Compose (./deploy.sh)"

test:
	./scripts/test.sh $(ARGS)

lint:
	$(RUFF) check .
	$(RUFF) format --check .

bench:
	$(PYTHON) bench/etl_bench.py
	$(PYTHON) bench/api_bench.py
	$(PYTHON) bench/lb_bench.py

local:
	./scripts/local.sh

up:
	./deploy.sh
