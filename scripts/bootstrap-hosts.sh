#!/usr/bin/env bash
# Build the YAML, Node.js and Go language hosts and our SDK generator (tools/sdkgen) beside the pulumi
# CLI that scripts/bootstrap-pulumi.sh built, so that `runtime: yaml` and `runtime: nodejs` programs
# run with .venv/bin/pulumi and SDKs can be generated from a provider schema.
#
# Why built here: like the CLI, these are Go programs that only the Go module proxy can give us.
#   - pulumi-language-yaml: github.com/pulumi/pulumi-yaml v1.25.0.
#   - pulumi-language-nodejs: the host inside sdk/v3 v3.68.0, the last sdk/v3 release that still
#     holds it as a package (later hosts are a module of their own without version tags, which the
#     proxy does not serve). Its gRPC protocol is still spoken by the v3.274.1 engine. It ignores
#     Pulumi.yaml runtime options (typescript, nodeargs, tsconfig): TypeScript is always on.
#   - pulumi-language-go: the host inside sdk/v3 v3.66.0, the last sdk/v3 release that still holds
#     it as a package (go/pulumi-language-go; from v3.67.0 on it is a module of its own,
#     sdk/go/pulumi-language-go/v3, which the proxy does not serve). It builds the program with the
#     machine's `go` and runs it; the program's own go.mod picks its pulumi SDK (sdk/go's go.mod).
#   - pulumi-resource-pulumi-nodejs: a shell shim for `pulumi.dynamic` resources of Node programs.
#   - sdkgen: our own tools/sdkgen, built from its committed go.mod/go.sum (see scripts/gen-sdk.sh).
# Everything goes into the CLI's cache directory ($CACHE_ROOT/pulumi-v$VERSION/bin): the engine
# looks for bundled language hosts next to the running `pulumi` binary and warns ("using ... from
# $PATH") about copies it finds elsewhere. sdkgen is also linked as VENV_DIR/bin/sdkgen.
#
# Each part has a marker file in the bin directory holding what it was built from; a rerun whose
# markers match does nothing (no go command runs). A failed build leaves its output in
# $CACHE_ROOT/pulumi-v$VERSION/hosts-build.log.
#
# Usage: scripts/bootstrap-hosts.sh VENV_DIR   (after scripts/bootstrap-pulumi.sh VENV_DIR)
set -euo pipefail

VENV=${1:?usage: bootstrap-hosts.sh VENV_DIR}
VERSION=${PULUMI_CLI_VERSION:-3.274.1}
YAML_VERSION=1.25.0
NODEJS_HOST_VERSION=3.68.0
GO_HOST_VERSION=3.66.0
CACHE_ROOT=${PULUMI_DCS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-dcs-migration}
PREFIX="$CACHE_ROOT/pulumi-v$VERSION"
BIN="$PREFIX/bin"
LOG="$PREFIX/hosts-build.log"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SDKGEN_SRC="$REPO/tools/sdkgen"
TAGS=osusergo,grpcnotrace
# Bump when a build recipe below changes, so existing caches rebuild.
RECIPE=1

log() { echo "bootstrap-hosts: $*" >&2; }
die() { log "$*"; exit 1; }

[ -d "$VENV/bin" ] || die "$VENV/bin does not exist; run scripts/bootstrap-pulumi.sh $VENV first"
VENV_BIN=$(cd "$VENV/bin" && pwd)
[ -d "$SDKGEN_SRC" ] || die "missing $SDKGEN_SRC"

# What each part is built from; a part is rebuilt when this differs from its marker.
yaml_key="pulumi-yaml v$YAML_VERSION recipe $RECIPE"
nodejs_key="sdk/v3 v$NODEJS_HOST_VERSION nodejs host recipe $RECIPE"
go_key="sdk/v3 v$GO_HOST_VERSION go host recipe $RECIPE"
sdkgen_key="sdkgen $(cd "$SDKGEN_SRC" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16) recipe $RECIPE"

marker() { echo "$BIN/.$1.built"; }
is_current() {  # is_current NAME KEY: the binary exists and was built from KEY
  [ -x "$BIN/$1" ] && [ -f "$(marker "$1")" ] && [ "$(cat "$(marker "$1")")" = "$2" ]
}

# The shim the engine runs for `pulumi.dynamic` resources of a Node program (a bundled plugin name,
# so it must sit beside `pulumi`). It runs the dynamic-provider script of the @pulumi/pulumi that
# the program itself resolves (the engine starts it in the program's directory).
write_nodejs_shim() {
  local tmp
  tmp=$(mktemp "$BIN/.shim.XXXXXX")
  cat > "$tmp" <<'SHIM'
#!/bin/sh
# Runs @pulumi/pulumi's dynamic provider for Node.js programs (written by scripts/bootstrap-hosts.sh).
script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
exec node "$script" "$@"
SHIM
  chmod 0755 "$tmp"
  if cmp -s "$tmp" "$BIN/pulumi-resource-pulumi-nodejs"; then rm -f "$tmp"
  else mv -f "$tmp" "$BIN/pulumi-resource-pulumi-nodejs"; fi
}

# Where the CLI that .venv/bin/pulumi runs lives (bootstrap-pulumi.sh may have chosen a pulumi
# found on PATH instead of our cache).
cli_dir() {
  [ -f "$VENV_BIN/pulumi" ] || return 0
  sed -n 's|^exec "\(.*\)/pulumi" .*|\1|p' "$VENV_BIN/pulumi" | head -n1
}

link_tools() {
  ln -sfn "$BIN/sdkgen" "$VENV_BIN/sdkgen"
  local dir; dir=$(cli_dir)
  if [ -n "$dir" ] && [ "$(cd "$dir" 2>/dev/null && pwd -P)" != "$(cd "$BIN" && pwd -P)" ]; then
    # Not our CLI: the hosts cannot sit beside it, so they go on PATH through the venv (the CLI
    # will print "using pulumi-language-... from $PATH" warnings).
    log "note: $VENV_BIN/pulumi runs $dir/pulumi, not $BIN/pulumi; linking the hosts into $VENV_BIN"
    local f
    for f in pulumi-language-yaml pulumi-language-nodejs pulumi-language-go pulumi-resource-pulumi-nodejs; do
      ln -sfn "$BIN/$f" "$VENV_BIN/$f"
    done
  fi
}

# Fast path: everything built already.
if is_current pulumi-language-yaml "$yaml_key" && is_current pulumi-language-nodejs "$nodejs_key" &&
   is_current pulumi-language-go "$go_key" && is_current sdkgen "$sdkgen_key"; then
  write_nodejs_shim
  link_tools
  log "hosts and sdkgen up to date in $BIN"
  exit 0
fi

command -v go >/dev/null || die "go is required to build the language hosts (and it builds the CLI)"
command -v python3 >/dev/null || die "python3 is required"
mkdir -p "$BIN"
# One build at a time per cache (two `make setup` running at once would race on the same files).
exec 9>"$PREFIX/.hosts.lock"
if command -v flock >/dev/null; then flock 9; fi

export CGO_ENABLED=0
: > "$LOG"
WORK="$PREFIX/build-hosts"

fail() {  # fail WHAT
  log "building $1 failed; the last lines of $LOG:"
  tail -n 25 "$LOG" >&2
  log "full log: $LOG"
  exit 1
}

# module_replaces MODULE@VERSION: that module's non-local replace directives, as -replace=old=new@v
# arguments for `go mod edit` (what `go install MODULE@VERSION` refuses to honour).
module_replaces() {
  local info gomod
  info=$(go mod download -json "$1") || {
    echo "go mod download $1 failed: $(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Error",""))' 2>/dev/null)" >&2
    return 1; }
  gomod=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("GoMod") or "")')
  [ -n "$gomod" ] || { echo "go mod download $1 gave no go.mod" >&2; return 1; }
  go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    new = r["New"]
    if "Version" not in new:      # a local directory (e.g. ../sdk): not usable outside the repo
        continue
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    print("-replace=%s=%s@%s" % (old, new["Path"], new["Version"]))'
}

# build_host NAME MODULE VERSION PACKAGE LDFLAGS: build PACKAGE (a main package of MODULE@VERSION)
# in a throwaway main module that carries MODULE's replace directives, so the dependency versions
# are exactly those MODULE's own go.mod selects.
build_host() {
  local name=$1 module=$2 version=$3 package=$4 ldflags=$5 dir="$WORK/$1" replaces
  rm -rf "$dir"; mkdir -p "$dir"
  log "building $name ($module@$version)"
  {
    echo "== $name: $module@$version"
    replaces=$(module_replaces "$module@$version") &&
    (cd "$dir" && go mod init "local/build-$name" &&
      { [ -z "$replaces" ] || go mod edit $replaces; } &&
      GOFLAGS=-mod=mod go get "$package@$version" &&
      GOFLAGS=-mod=mod go build -trimpath -buildvcs=false -tags "$TAGS" -ldflags "$ldflags" \
        -o "$BIN/.$name.tmp" "$package") &&
    mv -f "$BIN/.$name.tmp" "$BIN/$name"
  } >>"$LOG" 2>&1 || { rm -f "$BIN/.$name.tmp"; fail "$name"; }
  rm -rf "$dir"
}

if ! is_current pulumi-language-yaml "$yaml_key"; then
  start=$SECONDS
  build_host pulumi-language-yaml github.com/pulumi/pulumi-yaml "v$YAML_VERSION" \
    github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
    "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=v$YAML_VERSION"
  echo "$yaml_key" > "$(marker pulumi-language-yaml)"
  log "built pulumi-language-yaml v$YAML_VERSION in $((SECONDS - start)) s"
fi

if ! is_current pulumi-language-nodejs "$nodejs_key"; then
  start=$SECONDS
  build_host pulumi-language-nodejs github.com/pulumi/pulumi/sdk/v3 "v$NODEJS_HOST_VERSION" \
    github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
    "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$NODEJS_HOST_VERSION"
  echo "$nodejs_key" > "$(marker pulumi-language-nodejs)"
  log "built pulumi-language-nodejs v$NODEJS_HOST_VERSION in $((SECONDS - start)) s"
fi

if ! is_current pulumi-language-go "$go_key"; then
  start=$SECONDS
  build_host pulumi-language-go github.com/pulumi/pulumi/sdk/v3 "v$GO_HOST_VERSION" \
    github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go \
    "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$GO_HOST_VERSION"
  echo "$go_key" > "$(marker pulumi-language-go)"
  log "built pulumi-language-go v$GO_HOST_VERSION in $((SECONDS - start)) s"
fi

if ! is_current sdkgen "$sdkgen_key"; then
  start=$SECONDS
  log "building sdkgen from $SDKGEN_SRC"
  # The committed go.mod must carry the replaces of the pkg/v3 it requires (as the CLI build does)
  # and should require the CLI's version, or the SDKs would not be what that CLI generates.
  pkg_version=$(cd "$SDKGEN_SRC" && go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3 2>>"$LOG") ||
    fail "sdkgen (reading tools/sdkgen/go.mod)"
  [ "$pkg_version" = "v$VERSION" ] ||
    log "warning: tools/sdkgen requires pkg/v3 $pkg_version but the CLI is v$VERSION; to align:" \
        "(cd tools/sdkgen && go get github.com/pulumi/pulumi/pkg/v3@v$VERSION github.com/pulumi/pulumi/sdk/v3@v$VERSION && go mod tidy)"
  want=$(module_replaces "github.com/pulumi/pulumi/pkg/v3@$pkg_version" 2>>"$LOG" | sort) ||
    fail "sdkgen (reading pkg/v3's go.mod)"
  have=$(cd "$SDKGEN_SRC" && go mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    print("-replace=%s=%s@%s" % (old, r["New"]["Path"], r["New"].get("Version", "")))' | sort)
  if [ "$want" != "$have" ]; then
    log "tools/sdkgen/go.mod's replace directives differ from those of pulumi/pkg/v3@$pkg_version:"
    log "  expected: $(echo $want)"; log "  found:    $(echo $have)"
    die "update tools/sdkgen/go.mod (go mod edit -replace ...; go mod tidy) and commit it"
  fi
  (cd "$SDKGEN_SRC" && go build -mod=readonly -trimpath -buildvcs=false -tags "$TAGS" -ldflags "-s -w" \
     -o "$BIN/.sdkgen.tmp" .) >>"$LOG" 2>&1 && mv -f "$BIN/.sdkgen.tmp" "$BIN/sdkgen" ||
    { rm -f "$BIN/.sdkgen.tmp"; fail sdkgen; }
  echo "$sdkgen_key" > "$(marker sdkgen)"
  log "built sdkgen in $((SECONDS - start)) s"
fi

rmdir "$WORK" 2>/dev/null || true
write_nodejs_shim
link_tools
command -v node >/dev/null || log "warning: node is not on PATH; runtime: nodejs programs need Node.js"
log "hosts and sdkgen ready in $BIN"
