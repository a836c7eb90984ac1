# The two commands: `make run` (the cockpit on the embedded default) and `make test` (set-up + whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_PACKAGES := mosquitto mosquitto-clients prometheus openssl tmux

.PHONY: run test lint typecheck pytest bench bench-venv system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Debian packages the tests use (a real mosquitto broker and its clients), installed where missing.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

run: $(STAMP)
	RUNTIME_OPERATORS="$${RUNTIME_OPERATORS:-$${USER:-operator}}" $(BIN)/agenthedge cockpit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest -q -n 2 --dist loadfile

test: $(STAMP) system-deps lint typecheck pytest

## backtrader (GPL) and backtesting.py (AGPL), the backtest bench's yardsticks: only ever in this separate
## virtualenv, never a dependency of agenthedge; bench/engines/*.py run in it as subprocesses.
BENCH_VENV := .bench-venv
$(BENCH_VENV)/.installed:
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet 'backtrader==1.9.78.123' 'backtesting>=0.6.6,<0.7'
	@touch $@

bench-venv: $(BENCH_VENV)/.installed

bench: $(STAMP) system-deps bench-venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
