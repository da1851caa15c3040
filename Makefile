# The project's single entry point. `make test` and `make demo` are the two commands.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: setup test unit lint demo bench clean

setup: $(STAMP) $(VENV)/bin/pulumi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The pulumi CLI: an existing one on PATH if recent enough, else built from Go modules into a
# cache outside the repo (~/.cache/pulumi-dcs-migration), then linked into .venv/bin.
$(VENV)/bin/pulumi: $(STAMP) scripts/bootstrap-pulumi.sh
	scripts/bootstrap-pulumi.sh $(VENV)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check provider tests stacks bench
	$(VENV)/bin/mypy

demo: setup
	$(PY) scripts/demo.py

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .state .pytest_cache .mypy_cache .ruff_cache
