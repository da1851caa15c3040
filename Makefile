# The project's single entry point. `make test` and `make demo` are the two commands.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: setup pulumi-cli services test unit lint demo bench bench-fleet soak clean

setup: $(STAMP) pulumi-cli

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The pulumi CLI: an existing one on PATH if recent enough, else built from Go modules into a
# cache outside the repo (~/.cache/pulumi-dcs-migration), then linked into .venv/bin. Run every
# time (a no-op taking milliseconds when the cache is there) so a wiped cache is rebuilt.
pulumi-cli: $(STAMP)
	@scripts/bootstrap-pulumi.sh $(VENV)

# Services the tests start themselves, installed here when missing (a fresh machine has none):
# PostgreSQL from Debian's packages, for the shared-state tests (tests/team).
services:
	scripts/postgres.sh ensure >/dev/null

test: setup services
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

bench-fleet: setup services
	$(PY) bench/fleet.py

soak: setup
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) .state .pytest_cache .mypy_cache .ruff_cache
