#!/usr/bin/env bash
# One command for the whole benchmark: installs the peers that are missing
# (s6, runit from Debian; supervisor from PyPI), builds oneinit in release
# mode, runs every measurement for every supervisor and writes
# scripts/bench/results/latest.json and latest.md.
#
#   scripts/bench/run.sh [--quick] [any bench.py option]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}

need_apt=()
command -v s6-svscan >/dev/null || need_apt+=(s6)
command -v runsvdir >/dev/null || need_apt+=(runit)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
"$PY" -c 'import supervisor' 2>/dev/null || "$PY" -m pip install -q supervisor

cargo build --release --bin oneinit
TARGET=${CARGO_TARGET_DIR:-target}
exec "$PY" scripts/bench/bench.py --oneinit "$TARGET/release/oneinit" "$@"
