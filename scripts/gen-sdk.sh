#!/usr/bin/env bash
# Regenerate sdk/<language>/ from a provider's schema with tools/sdkgen (what
# `pulumi package gen-sdk` would write; that command cannot run here because our language hosts
# predate its GeneratePackage call), or check that the committed SDKs are up to date.
#
# Usage: scripts/gen-sdk.sh [--check] [--version X.Y.Z] SCHEMA [LANGUAGE...]
#   SCHEMA    a schema JSON file, or a provider plugin executable (pulumi-resource-<name>), whose
#             schema is read with `pulumi package get-schema`.
#   LANGUAGE  nodejs (default), python, go.
#   --check   generate into a temporary directory and compare with sdk/<language> (files that
#             git ignores there, e.g. node_modules/ or bin/, are left out of the comparison);
#             exit 1 with a summary of the differences if they differ. Writes nothing.
#   --version package version to write into the SDK (as gen-sdk --version); by default the
#             schema's version is used where the schema asks for it (respectSchemaVersion), and
#             nodejs package.json keeps the "${VERSION}" placeholder otherwise.
# Environment: VENV (default .venv) holds the pulumi CLI and sdkgen (scripts/bootstrap-hosts.sh
# builds sdkgen first when it is missing or stale); SDK_ROOT (default sdk) is where SDKs live.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
SDK_ROOT=${SDK_ROOT:-$REPO/sdk}

log() { echo "gen-sdk: $*" >&2; }
usage() { sed -n '6,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

check=0 version=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    --version) [ $# -ge 2 ] || usage; version=(--version "$2"); shift 2 ;;
    --version=*) version=(--version "${1#--version=}"); shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) log "unknown option $1"; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
schema_src=$1; shift
languages=("$@"); [ ${#languages[@]} -gt 0 ] || languages=(nodejs)
for lang in "${languages[@]}"; do
  case "$lang" in nodejs|python|go) ;; *) log "unsupported language '$lang' (nodejs, python, go)"; exit 2 ;; esac
done

# sdkgen (a no-op taking milliseconds when it is current).
"$REPO/scripts/bootstrap-hosts.sh" "$VENV"
SDKGEN="$VENV/bin/sdkgen"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-sdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The schema: a file as is, or asked of the plugin.
if [ -f "$schema_src" ] && [ ! -x "$schema_src" ]; then
  schema=$schema_src
elif [ -e "$schema_src" ]; then
  schema="$tmp/schema.json"
  PULUMI_HOME=${PULUMI_HOME:-$tmp/pulumi-home} "$VENV/bin/pulumi" package get-schema "$schema_src" > "$schema" ||
    { log "could not read the schema of $schema_src"; exit 1; }
else
  log "no such schema file or plugin: $schema_src"; exit 1
fi

# files_of DIR: the files of DIR that belong to the SDK (those git does not ignore), sorted.
files_of() {
  [ -d "$1" ] || return 0
  if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$1" && git ls-files --cached --others --exclude-standard -- . | while read -r f; do
       [ -f "$f" ] && echo "$f"; done | sort)
  else
    (cd "$1" && find . -type f ! -path './node_modules/*' ! -path './bin/*' | sed 's|^\./||' | sort)
  fi
}

status=0
for lang in "${languages[@]}"; do
  gen="$tmp/$lang"
  "$SDKGEN" --schema "$schema" --language "$lang" --out "$gen" "${version[@]}" 2>"$tmp/sdkgen.err" ||
    { cat "$tmp/sdkgen.err" >&2; log "generating the $lang SDK failed"; exit 1; }
  dest="$SDK_ROOT/$lang"; shown=${dest#"$REPO"/}
  if [ "$check" = 1 ]; then
    files_of "$dest" > "$tmp/have"
    (cd "$gen" && find . -type f | sed 's|^\./||' | sort) > "$tmp/want"
    missing=$(comm -13 "$tmp/have" "$tmp/want"); extra=$(comm -23 "$tmp/have" "$tmp/want")
    changed=$(comm -12 "$tmp/have" "$tmp/want" | while read -r f; do
      cmp -s "$gen/$f" "$dest/$f" || echo "$f"; done)
    if [ -z "$missing$extra$changed" ]; then
      log "$shown is up to date ($(wc -l < "$tmp/want") files)"
      continue
    fi
    status=1
    log "$shown is out of date with $schema_src; run: scripts/gen-sdk.sh ${version[*]:+${version[*]} }$schema_src $lang"
    for f in $missing; do echo "  missing:  $shown/$f"; done
    for f in $extra;   do echo "  extra:    $shown/$f"; done
    for f in $changed; do
      echo "  changed:  $shown/$f ($(diff "$dest/$f" "$gen/$f" | grep -c '^[<>]') lines differ)"
    done
    for f in $changed; do diff -u "$dest/$f" "$gen/$f" --label "$shown/$f (committed)" \
      --label "$shown/$f (generated)" || true; done | head -n 60
  else
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$gen" "$dest"
    log "wrote $shown ($(find "$dest" -type f | wc -l) files)"
  fi
done
exit $status
