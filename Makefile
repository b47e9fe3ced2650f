# iam-sweeper: the commands a developer and CI run. `make demo` and `make test` are the two to know.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
CARGO ?= cargo

.PHONY: all build test lint unit demo audit-demo bench venv clean

all: build

build:
	$(CARGO) build --release

## The emulator's Python environment (moto, pinned), built once.
venv: $(VENV_STAMP)

$(VENV_STAMP): tests/emulator/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	touch $@

## Formatting, lints and the whole test suite (unit, property, CLI, mocked AWS, emulator end to end).
test: venv lint
	IAM_SWEEPER_PYTHON=$(abspath $(VENV_PY)) $(CARGO) test --all-targets
	$(CARGO) test --doc

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## A full enforcing sweep against the local AWS emulator, printing the email SNS received.
demo: venv
	$(CARGO) build --quiet
	$(VENV_PY) tests/emulator/demo.py target/debug/iam-sweeper

## The offline audit of the bundled sample report (seed 002's six users plus a root row).
audit-demo:
	$(CARGO) run --quiet -- audit tests/fixtures/seed-sample.csv --as-of 2016-09-15T00:00:00Z || [ $$? -eq 3 ]

## Parse + evaluate a 5,000-user report (criterion).
bench:
	$(CARGO) bench --bench rules

clean:
	$(CARGO) clean
	rm -rf $(VENV)
