# cleanwire — the two quick-start commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced

export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: venv demo test lint typecheck bench eval clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --quiet --compile-bytecode  # .pyc at install: PYTHONDONTWRITEBYTECODE may be set
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cleanwire demo

test: $(STAMP)
	$(BIN)/ruff check cleaning spiders pipelines flows tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check cleaning spiders pipelines flows tests
	$(BIN)/ruff format --check cleaning spiders pipelines flows tests

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run

eval: $(STAMP)
	$(BIN)/cleanwire eval ../shared/data/extraction-benchmark

clean-venv:
	rm -rf $(VENV)
