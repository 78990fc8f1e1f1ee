#!/usr/bin/env bash
# Builds static (musl) release binaries of oneinit and onecli and packs them:
#
#   scripts/build-static.sh [x86_64|aarch64|all]     # default: this machine's arch
#
# leaves, for each architecture,
#   dist/oneinit-VERSION-ARCH-linux-musl.tar.gz          oneinit, onecli, LICENSE, README.md
#   dist/oneinit-VERSION-ARCH-linux-musl.tar.gz.sha256   check with `sha256sum -c`
#
# On Debian it installs what is missing: the rustup targets, musl-tools (the
# C compiler for ring, x86_64), gcc-aarch64-linux-gnu (linker and C compiler
# for aarch64) and qemu-user-static (to run the aarch64 binary for the check).
# On a musl host (Alpine, as in config-examples/docker/Dockerfile) it builds
# the native architecture with the system's cc and installs nothing: there
# it needs bash, file, GNU tar and gzip, and musl-dev.
#
# Each binary is checked before it is packed: `file` must say "statically
# linked" and the right machine, and `oneinit --version` must run (aarch64
# under qemu-aarch64-static on another host) and name the target.
#
# Environment: CARGO_TARGET_DIR (default target/), ONEINIT_GIT_COMMIT (the
# commit --version prints; default: git's HEAD, else "unknown"),
# SOURCE_DATE_EPOCH (file times in the tarball; default: the commit's time).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [x86_64|aarch64|all]" >&2; exit 2; }
host_arch=$(uname -m)
case "${1:-$host_arch}" in
  x86_64|amd64) arches=(x86_64) ;;
  aarch64|arm64) arches=(aarch64) ;;
  all) arches=(x86_64 aarch64) ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
host_is_musl=false
if [ -e /etc/alpine-release ] || ldd --version 2>&1 | grep -qi musl; then host_is_musl=true; fi

apt_missing=()
need_cmd() { # need_cmd COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2")
}
need_cmd file file
for arch in "${arches[@]}"; do
  if [ "$arch" = "$host_arch" ]; then
    $host_is_musl || need_cmd musl-gcc musl-tools
  else
    $host_is_musl && { echo "cross builds need a Debian host (found a musl host)" >&2; exit 2; }
    need_cmd "$arch-linux-gnu-gcc" "gcc-${arch//_/-}-linux-gnu"
    need_cmd "qemu-$arch-static" qemu-user-static
  fi
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "missing tools: ${apt_missing[*]} (install them)" >&2; exit 2; }
  echo "installing Debian packages: ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

sysroot=$(rustc --print sysroot)
for arch in "${arches[@]}"; do
  triple="$arch-unknown-linux-musl"
  if [ ! -d "$sysroot/lib/rustlib/$triple" ]; then
    command -v rustup >/dev/null || { echo "the Rust target $triple is missing and there is no rustup to add it" >&2; exit 2; }
    rustup target add "$triple"
  fi
done

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "cannot read the version from Cargo.toml" >&2; exit 2; }
if [ -z "${ONEINIT_GIT_COMMIT:-}" ] && git rev-parse --short=7 HEAD >/dev/null 2>&1; then
  ONEINIT_GIT_COMMIT=$(git rev-parse --short=7 HEAD)
fi
export ONEINIT_GIT_COMMIT="${ONEINIT_GIT_COMMIT:-unknown}"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p dist

# The machine names `file` prints for each architecture.
file_machine() { case "$1" in x86_64) echo "x86-64" ;; aarch64) echo "ARM aarch64" ;; esac; }

for arch in "${arches[@]}"; do
  triple="$arch-unknown-linux-musl"
  env_triple="${triple//-/_}"                       # aarch64_unknown_linux_musl
  upper=$(echo "$env_triple" | tr '[:lower:]' '[:upper:]')
  runner=()
  if [ "$arch" != "$host_arch" ]; then
    # Cross: the GNU cross gcc drives the link (rustc brings musl's crt and
    # libc itself) and compiles ring's C and assembly.
    export "CARGO_TARGET_${upper}_LINKER=$arch-linux-gnu-gcc"
    export "CC_${env_triple}=$arch-linux-gnu-gcc"
    export "AR_${env_triple}=$arch-linux-gnu-ar"
    runner=("qemu-$arch-static")
  elif ! $host_is_musl; then
    export "CC_${env_triple}=musl-gcc"
  fi
  echo "== building $triple ($version, commit $ONEINIT_GIT_COMMIT)"
  start=$(date +%s)
  cargo build --release --locked --target "$triple" --bin oneinit --bin onecli
  echo "built $triple in $(( $(date +%s) - start ))s"

  out="$target_dir/$triple/release"
  for bin in oneinit onecli; do
    desc=$(file -b "$out/$bin")
    case "$desc" in
      *"$(file_machine "$arch")"*"statically linked"*) ;;
      *) echo "$out/$bin is not a static $arch executable: $desc" >&2; exit 1 ;;
    esac
    got=$("${runner[@]}" "$out/$bin" --version)
    case "$got" in
      "$bin $version ("*", $triple)") echo "  $bin: $got" ;;
      *) echo "$out/$bin --version printed '$got', expected the version and $triple" >&2; exit 1 ;;
    esac
  done

  name="oneinit-$version-$arch-linux-musl"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir "$stage/$name"
  install -m 0755 "$out/oneinit" "$out/onecli" "$stage/$name/"
  install -m 0644 LICENSE README.md "$stage/$name/"
  # Reproducible (sorted, fixed owner and times) and replaced atomically, so
  # a reader of dist/ (tests/main/scratch.rs) never sees a half-written file;
  # the temporary name is unique, so two builds at once (tests run in
  # parallel) never write the same file.
  tmp="dist/.$name.$$.tmp"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -cf - "$name" | gzip -9n > "$tmp.tar.gz"
  rm -rf "$stage"
  echo "$(sha256sum < "$tmp.tar.gz" | cut -d' ' -f1)  $name.tar.gz" > "$tmp.sha256"
  mv "$tmp.tar.gz" "dist/$name.tar.gz"
  mv "$tmp.sha256" "dist/$name.tar.gz.sha256"
  (cd dist && sha256sum -c "$name.tar.gz.sha256" >/dev/null)
  echo "  dist/$name.tar.gz ($(wc -c < "dist/$name.tar.gz") bytes), dist/$name.tar.gz.sha256"
done
