#!/usr/bin/env bash
# Checks that the vendored actix-http is what it claims to be (run by
# scripts/test.sh):
#   1. vendor/actix-http is exactly the crates.io release plus
#      vendor/actix-http.patch (rebuilt by scripts/vendor-actix-http.sh --into);
#   2. the [patch.crates-io] in Cargo.toml is in effect: `cargo tree` resolves
#      the one actix-http of the build to vendor/actix-http. When actix-web
#      starts to require a newer actix-http, cargo silently stops applying the
#      patch (and builds the registry copy); this catches it.
# Exits 0 when both hold, 1 with what differs otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENDORED="$ROOT/vendor/actix-http"
fail=0

work=$(mktemp -d "${TMPDIR:-/tmp}/check-vendor.XXXXXX")
trap 'rm -rf "$work"' EXIT

scripts/vendor-actix-http.sh --into "$work/expected"
if diff -r "$work/expected" "$VENDORED" > "$work/diff"; then
  echo "check-vendor: vendor/actix-http = crates.io release + vendor/actix-http.patch"
else
  echo "check-vendor: FAIL: vendor/actix-http differs from the crates.io release + vendor/actix-http.patch" >&2
  head -60 "$work/diff" | sed 's/^/  /' >&2
  echo "  Edits to vendor/actix-http belong in the patch: scripts/vendor-actix-http.sh --update-patch;" >&2
  echo "  to drop them instead: scripts/vendor-actix-http.sh" >&2
  fail=1
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$work/expected/Cargo.toml" | head -1)
if ! cargo tree -i actix-http --prefix none -e normal > "$work/tree" 2> "$work/tree.err"; then
  echo "check-vendor: FAIL: \`cargo tree -i actix-http\` failed (more than one actix-http in the build?):" >&2
  sed 's/^/  /' "$work/tree.err" >&2
  fail=1
else
  first=$(head -1 "$work/tree")
  if [ "$first" != "actix-http v$version ($VENDORED)" ]; then
    echo "check-vendor: FAIL: the [patch.crates-io] for actix-http is not in effect." >&2
    echo "  cargo tree -i actix-http: $first" >&2
    echo "  expected:                 actix-http v$version ($VENDORED)" >&2
    echo "  Either the [patch.crates-io] entry in Cargo.toml is gone, or actix-web needs another" >&2
    echo "  actix-http than the vendored one: then set VERSION in scripts/vendor-actix-http.sh," >&2
    echo "  run it, and rebase vendor/actix-http.patch if it no longer applies." >&2
    fail=1
  elif grep -q "was not used in the crate graph" "$work/tree.err"; then
    echo "check-vendor: FAIL: cargo says a [patch] was not used:" >&2
    sed 's/^/  /' "$work/tree.err" >&2
    fail=1
  else
    echo "check-vendor: the build uses $first (the [patch] is in effect)"
  fi
fi
exit $fail
