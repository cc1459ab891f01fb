# countysim: set-up, run, test, benchmark.
# `make run` and `make test` create the virtual environment on first use.
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/baseline_2025.toml
SEED ?= 0
PYTEST_ARGS ?=

.PHONY: venv run test references test-slow test-browser bench lint docs docs-site explore notebooks validate clean

# Python 3.12 comes from pyenv where the machine's default python3 is older.
$(PY):
	@PYBIN=$$(command -v python$(PYTHON_VERSION) || (command -v pyenv >/dev/null && pyenv root >/dev/null && ls -d $$(pyenv root)/versions/$(PYTHON_VERSION)*/bin/python 2>/dev/null | tail -n 1) || command -v python3); \
	echo "creating $(VENV) with $$PYBIN"; \
	$$PYBIN -c 'import sys; assert sys.version_info >= (3, 12), "countysim needs Python >= 3.12, found " + sys.version' && \
	$$PYBIN -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,viz]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/countysim run $(SCENARIO) --seed $(SEED) --out runs/$(basename $(notdir $(SCENARIO))).nc

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Rewrite tests/reference/headline.json after an intended output change; then add a
# CHANGELOG.md entry naming the new output_version (tests/test_references.py checks both).
references: $(STAMP)
	$(PY) -m countysim.testing --refresh-references

# Long fuzz, kill-at-random and concurrency campaigns (marker `stress`); CI does not run them.
test-slow: $(STAMP)
	$(PY) -m pytest -m stress $(PYTEST_ARGS)

# The explorer in headless Chromium (marker `browser`; needs `apt-get install chromium`).
test-browser: $(STAMP)
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m pytest benchmarks -o python_files="bench_*.py" --benchmark-only --benchmark-json=benchmarks/results.json $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check model tests benchmarks experiments docs/notebooks
	$(VENV)/bin/lint-imports

# The notebooks' .ipynb twins (no outputs), generated from their jupytext .py sources.
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --sync docs/notebooks/*.py

validate: $(STAMP)
	$(VENV)/bin/countysim validate $(SCENARIO)

docs: $(STAMP)
	$(PY) -m countysim.odd

# The documentation site (mkdocs.yml) into build/site, warnings as errors. `python -m`
# keeps .venv/bin (the countysim script) off the front of the module search path.
docs-site: $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir build/site

# The interactive explorer on http://127.0.0.1:8765/ (PORT=... to change).
explore: $(STAMP)
	$(VENV)/bin/countysim explore --port $${PORT:-8765}

clean:
	rm -rf $(VENV) runs .pytest_cache .benchmarks
