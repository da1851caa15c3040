#!/usr/bin/env bash
# Write every release artefact into dist/ (or OUT), all of one version: `__version__` in
# provider/pulumi_dcs_migration/__init__.py, which the product wheel (hatch's version source), the
# simulator (simulator/hatch_build.py), the schema and plugin, and the SDKs (sdk/schema.json's
# "version", by `make sdk`) all take.
#
#   pulumi_dcs_migration-V-py3-none-any.whl, pulumi_dcs_migration-V.tar.gz   the product
#   dcs_simulator-V-py3-none-any.whl                                       the simulator
#   pulumi_dcs_migration_sdk-V-py3-none-any.whl, pulumi_dcs_migration_sdk-V.tar.gz
#                                   the plugin's Python SDK (sdk/python)
#   dcs-migration-pulumi-V.tgz      the TypeScript SDK (sdk/nodejs compiled: .js and .d.ts; npm pack)
#   dcs-migration-sdk-go-V.tar.gz   the Go module of sdk/go (module path in sdk/go/go.mod)
#
# Built from the committed sdk/ (CI's drift check keeps it what sdk/schema.json generates); a
# schema whose version is not V is refused. Needs the dev environment (`make setup`: hatchling,
# setuptools, tools/node's TypeScript) and, for the Python SDK's
# wheel, setuptools from the package index (below).
#
# Usage: scripts/dist.sh [OUT]     Environment: VENV (default .venv)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
PY="$VENV/bin/python"
OUT=$(mkdir -p "${1:-$REPO/dist}" && cd "${1:-$REPO/dist}" && pwd)
NODE_MODULES="$REPO/tools/node/node_modules"

log() { echo "dist: $*" >&2; }
die() { log "$*"; exit 1; }

version=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$REPO/provider/pulumi_dcs_migration/__init__.py")
[ -n "$version" ] || die "no __version__ in provider/pulumi_dcs_migration/__init__.py"
schema_version=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$REPO/sdk/schema.json")
[ "$schema_version" = "$version" ] || die "sdk/schema.json is version $schema_version, not $version: run make sdk"
[ -x "$NODE_MODULES/.bin/tsc" ] || die "missing $NODE_MODULES/.bin/tsc: run make setup"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -f "$OUT"/*.whl "$OUT"/*.tar.gz "$OUT"/*.tgz   # the artefacts of an earlier run, nothing else
log "version $version into $OUT"

# The product (wheel and sdist) and the simulator (wheel), by hatchling from the dev lock.
(cd "$REPO" && "$PY" -m hatchling build -t wheel -t sdist -d "$OUT" >"$tmp/log" 2>&1) || { cat "$tmp/log" >&2; die "building the product failed"; }
(cd "$REPO/simulator" && "$PY" -m hatchling build -t wheel -d "$OUT" >"$tmp/log" 2>&1) || { cat "$tmp/log" >&2; die "building the simulator failed"; }

# The Python SDK: a copy of sdk/python with its README where its pyproject looks for it.
cp -r "$REPO/sdk/python" "$tmp/python"
cp "$tmp/python/pulumi_dcs_migration_sdk/README.md" "$tmp/python/README.md"
# Its wheel is built by pip in build isolation: its pyproject asks for setuptools, whose wheel
# command (setuptools >= 70.1, or the `wheel` package) the dev lock does not hold; pip takes it
# from the package index (or its cache). Its sdist needs no more than the lock's setuptools.
"$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$OUT" "$tmp/python" >/dev/null
(cd "$tmp/python" && "$PY" -c 'from setuptools import build_meta as b; import sys; b.build_sdist(sys.argv[1])' "$OUT" >"$tmp/log" 2>&1) || { cat "$tmp/log" >&2; die "building the Python SDK sdist failed"; }
rm -rf "$tmp/python"

# The TypeScript SDK: compiled with the dev environment's TypeScript and @pulumi/pulumi into
# bin/ (Pulumi's layout), which is what the package holds.
cp -r "$REPO/sdk/nodejs" "$tmp/nodejs"
ln -s "$NODE_MODULES" "$tmp/nodejs/node_modules"
(cd "$tmp/nodejs" && "$NODE_MODULES/.bin/tsc" -p . >/dev/null) || die "tsc failed on sdk/nodejs"
cp "$tmp/nodejs/package.json" "$tmp/nodejs/README.md" "$tmp/nodejs/bin/"
(cd "$tmp/nodejs/bin" && npm pack --silent --pack-destination "$OUT" >/dev/null)

# The Go module: sdk/go as it sits in the repository (go.mod at its root).
tar -czf "$OUT/dcs-migration-sdk-go-$version.tar.gz" -C "$REPO/sdk" --owner=0 --group=0 \
  --sort=name --mtime='1970-01-01 00:00:00Z' go

ls -l "$OUT" | sed 1d | while read -r line; do log "  $line"; done
