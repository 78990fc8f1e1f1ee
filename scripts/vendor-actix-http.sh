#!/usr/bin/env bash
# vendor/actix-http is the crates.io release of actix-http plus one small
# change, kept as vendor/actix-http.patch (see vendor/README.md). This script
# owns that relation:
#
#   scripts/vendor-actix-http.sh                 rebuild vendor/actix-http = release + patch
#   scripts/vendor-actix-http.sh --update-patch  rewrite the patch from an edited vendor/actix-http
#   scripts/vendor-actix-http.sh --into DIR      write release + patch into DIR (used by
#                                                scripts/check-vendor.sh; DIR must not exist)
#
# The release comes from cargo itself: a throwaway crate that depends on
# `actix-http = "=$VERSION"` is fetched (`cargo fetch`, so the .crate is checked
# against the crates.io index checksum) and the .crate archive from cargo's
# registry cache is unpacked. The vendored tree keeps the crate's Cargo.toml,
# .cargo_vcs_info.json (the upstream commit), licences, README and src/;
# benches, examples, tests, the changelog and the crate's own Cargo.lock are
# left out (cargo never builds a dependency's tests, benches or examples).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSION=3.20.0
KEEP=(.cargo_vcs_info.json Cargo.toml LICENSE-APACHE LICENSE-MIT README.md src)
VENDORED="$ROOT/vendor/actix-http"
PATCH="$ROOT/vendor/actix-http.patch"

die() { echo "vendor-actix-http: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vendor-actix-http.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Unpacks the pristine release into $1 (only the KEEP paths).
fetch_release() {
  local dest=$1 crate home
  mkdir -p "$work/probe/src"
  cat > "$work/probe/Cargo.toml" <<EOF
[package]
name = "vendor-probe"
version = "0.0.0"
edition = "2021"

[dependencies]
actix-http = { version = "=$VERSION", default-features = false }
EOF
  : > "$work/probe/src/lib.rs"
  # Offline first (the usual case: the crate is already in cargo's cache).
  (cd "$work/probe" && { cargo fetch --offline -q 2>/dev/null || cargo fetch -q; }) \
    || die "cargo could not fetch actix-http $VERSION from crates.io"
  home=${CARGO_HOME:-$HOME/.cargo}
  crate=$(ls "$home"/registry/cache/*/"actix-http-$VERSION.crate" 2>/dev/null | head -1)
  [ -n "$crate" ] || die "actix-http-$VERSION.crate is not in $home/registry/cache after cargo fetch"
  mkdir -p "$work/unpack"
  tar -xzf "$crate" -C "$work/unpack"
  mkdir -p "$dest"
  for p in "${KEEP[@]}"; do
    cp -a "$work/unpack/actix-http-$VERSION/$p" "$dest/"
  done
}

apply_patch() {
  local dir=$1
  [ -f "$PATCH" ] || die "$PATCH is missing"
  # Not inside any git work tree, so git apply patches relative to $dir.
  (cd "$dir" && GIT_CEILING_DIRECTORIES="$work" git apply --whitespace=nowarn -p1 "$PATCH") \
    || die "vendor/actix-http.patch does not apply to actix-http $VERSION: rebase it on the new release"
}

case "${1:-}" in
  "")
    fetch_release "$work/tree"
    apply_patch "$work/tree"
    rm -rf "$VENDORED"
    # Not -a: fresh mtimes, so cargo rebuilds the crate (the release's files are dated 2006).
    cp -R "$work/tree" "$VENDORED"
    echo "vendor/actix-http rebuilt: actix-http $VERSION + vendor/actix-http.patch"
    ;;
  --into)
    [ -n "${2:-}" ] || die "--into needs a directory"
    [ ! -e "$2" ] || die "$2 exists; give a new path"
    fetch_release "$work/tree"
    apply_patch "$work/tree"
    cp -a "$work/tree" "$2"
    ;;
  --update-patch)
    fetch_release "$work/a"
    mkdir -p "$work/b"
    for p in "${KEEP[@]}"; do cp -a "$VENDORED/$p" "$work/b/"; done
    extra=$(cd "$VENDORED" && ls -A | grep -vxF -f <(printf '%s\n' "${KEEP[@]}") || true)
    [ -z "$extra" ] || die "vendor/actix-http has files outside ${KEEP[*]}: $extra"
    # `git diff --no-index` exits 1 when the trees differ; --no-prefix with the
    # directories named a and b gives ordinary a/ b/ paths for `git apply -p1`.
    (cd "$work" && git diff --no-index --no-prefix --no-color --no-ext-diff a b > "$PATCH.new") || true
    mv "$PATCH.new" "$PATCH"
    echo "vendor/actix-http.patch: $(grep -c '^diff --git' "$PATCH") files, $(wc -l < "$PATCH") lines"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
