# Shortcuts for the project's scripts. `make help` lists them.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff

.PHONY: help test lint bench local up lock

help:
	@echo "make test   - the whole test suite (./scripts/test.sh; ARGS='tests/unit -q' passes pytest arguments)"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make bench  - bench/etl_bench.py, bench/api_bench.py, bench/lb_bench.py"
	@echo "make local  - run the API and the dashboard without Docker (./scripts/local.sh)"
	@echo "make up     - build and start the stack with Docker Compose (./deploy.sh)"
	@echo "make lock   - pin every dependency, with hashes, from the requirements*.in files"

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

# The images and the test script install only these locks: every package pinned, with hashes.
# The services' locks come first, since the development lock is constrained to them.
UV := $(VENV)/bin/uv
LOCK := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

lock:
	$(LOCK) backend/requirements.in -o backend/requirements.txt
	$(LOCK) frontend/requirements.in -o frontend/requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt
