# The project's single entry point. `make test` and `make demo` are the two commands.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
LOCK    = requirements/dev.txt

.PHONY: setup pulumi-cli hosts node plugin sdk dist services test compat check lint format unit demo bench bench-preview bench-guard bench-fleet bench-throttle bench-policy soak lock clean

setup: $(STAMP) pulumi-cli hosts node plugin

# The dev/test environment comes from the lock (exact versions, hashes checked); the two
# packages of this repo (the product and the simulator) are then installed editable on top.
$(STAMP): pyproject.toml simulator/pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . -e ./simulator
	touch $@

# The pulumi CLI: an existing one on PATH if recent enough, else built from Go modules into a
# cache outside the repo (~/.cache/pulumi-dcs-migration), then linked into .venv/bin. Run every
# time (a no-op taking milliseconds when the cache is there) so a wiped cache is rebuilt.
pulumi-cli: $(STAMP)
	@scripts/bootstrap-pulumi.sh $(VENV)

# The YAML and Node.js language hosts and our SDK generator (tools/sdkgen), built beside the CLI
# in the same cache; a no-op when current.
hosts: pulumi-cli
	@scripts/bootstrap-hosts.sh $(VENV)

# The Node.js side of the dev/test environment (TypeScript, @pulumi/pulumi) from its lock, linked
# at the repo root so that TypeScript programs and sdk/nodejs resolve it.
NODE_STAMP = tools/node/node_modules/.installed
node: $(NODE_STAMP)
	@ln -sfn tools/node/node_modules node_modules

$(NODE_STAMP): tools/node/package-lock.json
	npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
	touch $@

# The dcs-migration provider plugin, installed into $$PULUMI_HOME/plugins (default ~/.pulumi) so
# that YAML and TypeScript programs find it with no other step.
plugin: pulumi-cli
	@$(VENV)/bin/dcs-migration plugin install --pulumi $(VENV)/bin/pulumi >/dev/null

# Regenerate the committed package schema and the SDKs (sdk/nodejs, sdk/python, sdk/go) from the
# provider's rules; tests/plugin/test_sdk_drift.py fails when a committed one differs.
SDK_LANGUAGES = nodejs python go
sdk: hosts
	$(PY) -m pulumi_dcs_migration.plugin --schema > sdk/schema.json
	scripts/gen-sdk.sh sdk/schema.json $(SDK_LANGUAGES)

# Every release artefact into dist/, of the one version (__version__ in the product's
# __init__.py): the product's wheel and sdist, the simulator's wheel, the Python SDK's wheel and
# sdist, the TypeScript SDK's npm tarball, the Go module's tarball (scripts/dist.sh).
dist: $(STAMP) node
	scripts/dist.sh dist

# Services the tests start themselves, installed here when missing (a fresh machine has none):
# PostgreSQL from Debian's packages, for the shared-state tests (tests/team).
services:
	scripts/postgres.sh ensure >/dev/null

# Quality gates: lint, format and strict types over everything that is Python in this repo.
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

lint: check

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The suite on $(JOBS) workers (pytest-xdist), a test file per worker: a file's fixtures (a
# simulator, a PostgreSQL cluster, built wheels) are made once, in its worker.
JOBS ?= 2
test: setup services check
	$(PY) -m pytest -n $(JOBS) --dist loadfile $(PYTEST_ARGS)
	$(MAKE) --no-print-directory compat

# The compatibility matrix (docs/development.md): the whole suite above runs on the newest
# versions the pins allow (requirements/dev.txt); this runs its smoke part (everything not
# marked e2e in the tiers that exercise pulumi and httpx without the CLI) on the lowest
# (requirements/compat-lowest.txt), in its own environment, rebuilt only when its inputs change.
# scripts/pytest_compat.py points the plugin tier at this environment's plugin executable.
COMPAT_VENV  = .venv-compat
COMPAT_LOCK  = requirements/compat-lowest.txt
COMPAT_TESTS = tests/unit tests/contract tests/plugin tests/dynamic

compat: $(COMPAT_VENV)/.installed
	$(COMPAT_VENV)/bin/python -m pytest -p scripts.pytest_compat -m "not e2e" $(COMPAT_TESTS) $(COMPAT_ARGS)

$(COMPAT_VENV)/.installed: pyproject.toml simulator/pyproject.toml $(COMPAT_LOCK)
	rm -rf $(COMPAT_VENV)
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(COMPAT_LOCK)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . -e ./simulator
	touch $@

unit: $(STAMP)
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

demo: setup
	$(PY) scripts/demo.py

bench: setup
	$(PY) bench/run.py

bench-preview: setup
	$(PY) bench/preview.py

bench-guard: setup
	$(PY) bench/guard.py

bench-fleet: setup services
	$(PY) bench/fleet.py

# 16 stacks x 100 tasks in one project against a gateway throttling at 20 requests/s (issue 14).
bench-throttle: setup
	$(PY) bench/throttle.py

# The request-policy targets of issue 21 side by side: 8 operators x 60 tasks in one project
# against a 4 requests/s gateway; 1, 10 and 1,000 tasks against the official SDK's naive loop.
bench-policy: setup
	$(PY) bench/policy.py

soak: setup
	$(PY) bench/soak.py

# Regenerate the dev/test lock from pyproject.toml, simulator/pyproject.toml and the dev group
# (uv comes from the lock itself once installed; a first lock installs the locked version).
lock:
	test -x $(VENV)/bin/uv || { test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install --quiet "$$(grep -o '^uv==[^ ]*' $(LOCK))"; }
	$(VENV)/bin/uv pip compile requirements/dev.in --group pyproject.toml:dev --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --no-emit-package pulumi-dcs-migration --no-emit-package dcs-simulator -o $(LOCK)

clean:
	rm -rf $(VENV) $(COMPAT_VENV) dist .state .pytest_cache .mypy_cache .ruff_cache tools/node/node_modules node_modules
