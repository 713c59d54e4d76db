# mlops-hub: the two fresh-machine commands are `make preview` (main job) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := true
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: setup preview test lint format typecheck pytest lock clean

setup: $(STAMP)

# --no-compile: byte-compiling the provider SDKs costs ~50 s and most modules are never imported.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile --no-deps -e .
	touch $@

preview: setup
	$(BIN)/hub preview dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck pytest

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock:
	rm -rf /tmp/mlops-hub-lock && $(PYTHON) -m venv /tmp/mlops-hub-lock
	/tmp/mlops-hub-lock/bin/pip install --quiet --no-compile '.[dev]'
	{ echo "# The whole dependency tree, pinned (pip freeze of a clean 'make setup' venv)."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  /tmp/mlops-hub-lock/bin/pip freeze --exclude-editable | grep -v '^mlops-hub'; } > requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
