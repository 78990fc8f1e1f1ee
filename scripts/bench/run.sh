#!/usr/bin/env bash
# One command for the whole benchmark: installs what is missing (s6 with
# s6-log, runit, wrk, curl and a C compiler from Debian; supervisor from
# PyPI), builds oneinit in release mode with profile-guided optimization
# (scripts/build-release.sh), runs every measurement and writes
# the results (see README.md).
#
#   scripts/bench/run.sh                 full run: writes results/latest.json and latest.md
#   scripts/bench/run.sh --quick         short run: writes results/quick.*, prints each figure
#                                        beside the committed latest.json, flags >20% worse
#   scripts/bench/run.sh --smoke         harness self-check (N = 10, 1 repetition), temp dir
#   scripts/bench/run.sh --oneinit-static dist/oneinit-<version>-x86_64-linux-musl.tar.gz
#   (any other bench.py option is passed on; bench.py --help lists them)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}

need_apt=()
command -v s6-svscan >/dev/null || need_apt+=(s6)
command -v s6-log >/dev/null || need_apt+=(s6)
command -v runsvdir >/dev/null || need_apt+=(runit)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v curl >/dev/null || need_apt+=(curl)
command -v cc >/dev/null || need_apt+=(gcc libc6-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
"$PY" -c 'import supervisor' 2>/dev/null || "$PY" -m pip install -q supervisor

# The build users are told to ship: profile-guided (scripts/build-release.sh
# says how and why); its last line is the binaries' directory.
BIN_DIR=$(scripts/build-release.sh | tail -n 1)
exec "$PY" scripts/bench/bench.py --oneinit "$BIN_DIR/oneinit" \
  --oneinit-build "release build with PGO (scripts/build-release.sh)" "$@"
