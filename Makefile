# Two commands do all the set-up on a fresh machine with Python >= 3.10:
#   make train   install, simulate the default dataset, train, evaluate, export
#   make test    install with the dev extras and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXPERIMENT ?= quickstart
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: install install-dev train test lint format clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "migraseg needs Python >= 3.10"'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml setup.py $(VENV)/.installed
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# migraseg-train simulates data/synthetic_confocal on first use (configs/data/synthetic.yaml).
train: install
	$(BIN)/migraseg-train experiment=$(EXPERIMENT)

# napari's GUI tests need a display: xvfb-run gives a virtual one where it is installed
# (.ci/run installs it; docs/napari.md). Without it they skip, unless MIGRASEG_REQUIRE_GUI=1.
XVFB_RUN := $(shell command -v xvfb-run >/dev/null 2>&1 && echo xvfb-run -a)

test: install-dev
	$(XVFB_RUN) $(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf outputs multirun .pytest_cache .ruff_cache
