# Two entry points for a fresh machine: `make demo` and `make test`. Neither needs anything
# outside the repository (the demo runs on the embedded NDigits data).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --disable-pip-version-check -q
# One stamp per install: the demo needs the package with its training extra, the tests also
# the dev tools.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first, pinned: a bare `torch` would pull a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(PIP) torch==2.13.0
	$(PIP) -e '.[train]'
	touch $(STAMP)

# SpikingJelly 2.0 is a test peer (its NIR importer runs our exported graphs); --no-deps because
# its declared torchvision/torchaudio would replace the pinned torch, and its NIR path needs only
# loguru, h5py and tqdm (in the dev extra and the core).
$(DEV_STAMP): $(STAMP)
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps spikingjelly==2.0.0
	touch $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/spikestream demo

test: lint
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(PIP) -e '.[bench]'
	$(PIP) --no-deps spikingjelly==2.0.0
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build src/*.egg-info
