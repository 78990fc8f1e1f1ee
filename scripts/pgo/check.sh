#!/usr/bin/env bash
# scripts/test.sh's check of the PGO build: scripts/build-release.sh runs
# (its training run fails on an API that never answers or an exit code
# other than 0), the binaries run, and the profile took effect: the code
# the training never ran sits in a .text.unlikely section of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(scripts/build-release.sh | tail -n 1)
"$dir/oneinit" --version
"$dir/onecli" --help >/dev/null
sections=$(readelf -SW "$dir/oneinit")
size_of() { # size in bytes of section $1 (0 when there is none)
  local hex
  hex=$(awk -v s="$1" '{ for (i = 1; i < NF; i++) if ($i == s) { print $(i + 4); exit } }' <<<"$sections")
  echo $((16#${hex:-0}))
}
cold=$(size_of .text.unlikely)
warm=$(size_of .text)
echo "check: .text $warm bytes, .text.unlikely $cold bytes"
if [ "$cold" -lt $((1024 * 1024)) ]; then
  echo "check: the profile did not take effect (.text.unlikely under 1 MiB)" >&2
  exit 1
fi
