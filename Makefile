# The two commands of the README, plus benchmarks.  Each makes its own virtual
# environment and installs what it needs from setup.cfg: the demo only the
# package and its plots (.venv-demo), the tests everything (.venv).
PYTHON ?= python3
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check
VENV := .venv
BIN := $(VENV)/bin
DEMO_VENV := .venv-demo

.PHONY: demo test lint bench clean

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/microgrid demo

# The linter, the formatter's check and the type checker first: seconds, where the tests take minutes.
test: lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check microgrid tests benchmarks
	$(BIN)/ruff format --check microgrid tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run.py

# The demo saves its plots with matplotlib: the `plots` extra, no test tools.
# The interpreter's own pip installs into it (--python), so that the demo's
# environment holds no pip of its own; --no-compile: Python compiles the few
# modules the demo imports when it first runs, not all of matplotlib and NumPy.
$(DEMO_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv --without-pip $(DEMO_VENV)
	$(PYTHON) -m pip --python $(DEMO_VENV)/bin/python install --quiet --disable-pip-version-check --no-compile -e '.[plots]'
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP_INSTALL) -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/python $(PIP_INSTALL) -e '.[test,bench]'
	touch $@

clean:
	rm -rf $(VENV) $(DEMO_VENV) demo-output bench-output .pytest_cache .hypothesis
