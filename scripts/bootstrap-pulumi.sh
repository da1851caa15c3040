#!/usr/bin/env bash
# Provide the pulumi CLI, the Python language host and the dynamic-provider shim to .venv/bin.
#
# Why this exists: the pulumi CLI is not on PyPI or in Debian, and release downloads are not
# reachable from our machines, so the CLI is built from its Go modules (see README, "How the pulumi
# CLI gets here"). The build lands in a cache outside the repo and is reused by every later run on
# the same machine; a `pulumi` already on PATH is used instead when its version is new enough.
#
# Usage: scripts/bootstrap-pulumi.sh VENV_DIR
set -euo pipefail

VENV=${1:?usage: bootstrap-pulumi.sh VENV_DIR}
VERSION=${PULUMI_CLI_VERSION:-3.274.1}
MIN_VERSION=3.216.0   # read() may return inputs from 3.216 on (pulumi/pulumi#13839)
CACHE_ROOT=${PULUMI_DCS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-dcs-migration}
PREFIX="$CACHE_ROOT/pulumi-v$VERSION"
BIN="$PREFIX/bin"

log() { echo "bootstrap-pulumi: $*" >&2; }

version_ok() {  # version_ok X.Y.Z -> true when X.Y.Z >= MIN_VERSION
  [ "$(printf '%s\n%s\n' "$MIN_VERSION" "$1" | sort -V | head -n1)" = "$MIN_VERSION" ]
}

link_into_venv() {  # link_into_venv DIR: make DIR's pulumi usable as .venv/bin/pulumi
  local dir venv_bin
  dir=$(cd "$1" && pwd); venv_bin=$(cd "$VENV" && pwd)/bin
  rm -f "$venv_bin/pulumi-language-python" "$venv_bin/pulumi-language-python-exec"
  # A wrapper, not a link: the language host picks `python3` from PATH, so the venv goes first;
  # and the CLI is kept offline (no update check, no plugin downloads) unless the caller says so.
  # When the CLI is our own build, every plugin it needs sits beside it or in $PULUMI_HOME/plugins
  # (`make setup` installs dcs-migration there), so plugins merely found on PATH -- the venv's
  # own pulumi-resource-dcs-migration among them -- are ignored, and never warned about.
  local ambient=""
  [ "$dir" = "$(cd "$BIN" 2>/dev/null && pwd)" ] &&
    ambient='export PULUMI_IGNORE_AMBIENT_PLUGINS="${PULUMI_IGNORE_AMBIENT_PLUGINS:-true}"'
  cat > "$venv_bin/pulumi" <<WRAPPER
#!/bin/sh
export PATH="$venv_bin:\$PATH"
export PULUMI_SKIP_UPDATE_CHECK="\${PULUMI_SKIP_UPDATE_CHECK:-true}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="\${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}"
$ambient
exec "$dir/pulumi" "\$@"
WRAPPER
  chmod +x "$venv_bin/pulumi"
  # The dynamic-provider shim goes beside the CLI when we own that directory (the engine prefers
  # bundled plugins there and warns about a copy found on PATH); otherwise into the venv.
  local shim_dir=$venv_bin
  [ "$dir" = "$(cd "$BIN" 2>/dev/null && pwd)" ] && shim_dir=$dir
  rm -f "$venv_bin/pulumi-resource-pulumi-python"
  cat > "$shim_dir/pulumi-resource-pulumi-python" <<'SHIM'
#!/bin/sh
# Runs the Python dynamic provider with the project's virtualenv (the engine exports the
# Pulumi.yaml runtime option as PULUMI_RUNTIME_VIRTUALENV), else python3 from PATH.
if [ -n "$PULUMI_RUNTIME_VIRTUALENV" ] && [ -x "$PULUMI_RUNTIME_VIRTUALENV/bin/python" ]; then
  exec "$PULUMI_RUNTIME_VIRTUALENV/bin/python" -u -m pulumi.dynamic "$@"
fi
exec "${PULUMI_PYTHON_CMD:-python3}" -u -m pulumi.dynamic "$@"
SHIM
  chmod +x "$shim_dir/pulumi-resource-pulumi-python"
}

# 1. A pulumi already on PATH (not our own venv link) whose version fits.
existing=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vFx "$(cd "$VENV" 2>/dev/null && pwd)/bin" | paste -sd:) command -v pulumi || true)
if [ -n "$existing" ]; then
  v=$("$existing" version 2>/dev/null | sed 's/^v//')
  if version_ok "$v" && [ -x "$(dirname "$(readlink -f "$existing")")/pulumi-language-python" ]; then
    log "using pulumi $v from $existing"
    link_into_venv "$(dirname "$(readlink -f "$existing")")"
    exit 0
  fi
  log "ignoring $existing (version '$v' or missing language host)"
fi

# 2. Our cache, built earlier on this machine.
if [ -x "$BIN/pulumi" ] && [ -x "$BIN/pulumi-language-python" ] && [ -f "$BIN/.complete" ]; then
  log "using pulumi v$VERSION from $BIN"
  link_into_venv "$BIN"
  exit 0
fi

# 3. Build from the Go module proxy.
command -v go >/dev/null || { log "go is required to build the pulumi CLI"; exit 1; }
log "building pulumi v$VERSION from Go modules into $PREFIX (first time on this machine: several minutes)"
mkdir -p "$BIN"
WORK="$PREFIX/build"
LOG="$PREFIX/build.log"; : > "$LOG"
rm -rf "$WORK"; mkdir -p "$WORK"
export GOFLAGS=-mod=mod CGO_ENABLED=0
LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION"
TAGS=osusergo,grpcnotrace

# pkg/go.mod's non-local replace directives, which `go install pkg@version` would refuse.
pkg_mod=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
replaces=$(awk '/^replace \(/{b=1;next} b&&/^\)/{b=0} b{print} /^replace [^(]/{sub(/^replace /,""); print}' "$pkg_mod" | grep -v '=> \.' || true)

make_module() {  # make_module DIR: a throwaway main module carrying pkg's replaces
  mkdir -p "$1"; (cd "$1" && go mod init local/pulumi-build >/dev/null 2>&1
    while read -r line; do
      [ -z "$line" ] && continue
      from=$(echo "$line" | awk '{print $1}'); to=$(echo "$line" | awk '{print $3"@"$4}')
      go mod edit -replace "$from=$to"
    done <<< "$replaces")
}

# 3a. The CLI.
make_module "$WORK/cli"
(cd "$WORK/cli" &&
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$VERSION" "github.com/pulumi/pulumi/sdk/v3@v$VERSION" &&
  go build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >>"$LOG" 2>&1 ||
  { log "building the CLI failed; see $LOG"; tail -20 "$LOG" >&2; exit 1; }
log "built $("$BIN/pulumi" version)"

# 3b. The Python language host. Since v3.79.1 it is a module of its own with no version tags,
# reachable only as a pseudo-version of the release commit, which the module proxy here does not
# serve (it answers 403, and the .info carries no Origin). v3.79.0 is the last release that
# shipped the host as a package of sdk/v3; its gRPC protocol is still spoken by today's engine
# (preview/up/refresh/destroy verified), so it is the fallback. It ignores the `virtualenv`
# runtime option, which is why .venv/bin/pulumi puts the venv first on PATH.
commit=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Origin",{}).get("Hash",""))')
make_module "$WORK/lang"
if [ -n "$commit" ] && (cd "$WORK/lang" &&
  go get "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3@$commit" \
         "github.com/pulumi/pulumi/pkg/v3@v$VERSION" "github.com/pulumi/pulumi/sdk/v3@v$VERSION" &&
  go build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" -o "$BIN/pulumi-language-python" \
     github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) >>"$LOG" 2>&1; then
  log "built the Python language host at $commit"
else
  LANG_HOST_VERSION=3.79.0
  log "language host of v$VERSION not reachable; building the one of v$LANG_HOST_VERSION"
  rm -rf "$WORK/lang"; mkdir -p "$WORK/lang"
  (cd "$WORK/lang" && go mod init local/pulumi-language-python >/dev/null 2>&1 &&
    go get "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python@v$LANG_HOST_VERSION" &&
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANG_HOST_VERSION" \
      -o "$BIN/pulumi-language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python) >>"$LOG" 2>&1
fi

# 3c. The executor script the language host runs, shipped inside the sdk module.
sdk_dir=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
"$BIN/pulumi" version >/dev/null

rm -rf "$WORK"
touch "$BIN/.complete"
link_into_venv "$BIN"
log "pulumi v$VERSION ready in $BIN"
