#!/usr/bin/env bash
# Log throughput benchmark: lines/s from children's stdout, through capture
# (pipe reader, 64 KiB splitting, UTF-8 check, JSON record), to
#   1. oneinit's stdout (redirected to a file), and
#   2. a per-service log file (logs.file; stdout to /dev/null).
# Each run starts SERVICES oneshot services that each print LINES lines of
# 52 bytes (`yes | head`) as fast as they can; a critical oneshot that
# requires them all ends oneinit once they have completed. Lines not written
# (dropped, counted by oneinit_log_lines_dropped_total; none with the
# default `logs.on_full: block`) are reported too.
# The reference: the same lines through `s6-log t` (ISO 8601 timestamps) to
# a directory, when s6-log is installed.
# Each figure: wall time, lines/s, and CPU time (user + system of oneinit
# and the writers, or s6-log and the writer) per line.
#
# Usage: scripts/bench_logs.sh [LINES] [SERVICES]      (default 1000000 1)
#   ONEINIT_BIN=path   binary to measure (default: target/release/oneinit if
#                      built, else target/debug/oneinit, built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
SERVICES=${2:-1}
target=${CARGO_TARGET_DIR:-target}
BIN=${ONEINIT_BIN:-}
if [ -z "$BIN" ]; then
  if [ -x "$target/release/oneinit" ]; then
    BIN="$target/release/oneinit"
  else
    [ -x "$target/debug/oneinit" ] || cargo build --bin oneinit
    BIN="$target/debug/oneinit"
  fi
fi
LINE='line 00000001 of the oneinit log throughput benchmark'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# config MODE -> oneinit.yaml ; MODE is "stdout" or "file"
config() {
  local mode=$1 i requires=""
  {
    echo "services:"
    for ((i = 0; i < SERVICES; i++)); do
      echo "  s$i:"
      echo "    type: oneshot"
      echo "    command: [\"sh\", \"-c\", \"yes '$LINE' | head -n $LINES\"]"
      if [ "$mode" = file ]; then
        echo "    logs: {ring: 0, file: \"$work/s$i.log\", max_size: 1GiB}"
      else
        echo "    logs: {ring: 0}"
      fi
      requires+="s$i, "
    done
    echo "  done:"
    echo "    type: oneshot"
    echo "    critical: true"
    echo "    command: [\"true\"]"
    echo "    requires: [${requires%, }]"
  } > "$work/oneinit.yaml"
}

run() {
  local mode=$1 out=$2 got
  config "$mode"
  rm -f "$work"/s*.log
  # Wall time, and CPU time (user + system, oneinit and its children) which
  # says more than wall time on a busy machine.
  local TIMEFORMAT='%R %U %S' times
  times=$( { time ONEINIT_RUNTIME_DIR="$work/run" "$BIN" --config "$work/oneinit.yaml" > "$out" 2> "$work/stderr.log" || true; } 2>&1 )
  if [ "$mode" = file ]; then
    got=$(cat "$work"/s*.log | wc -l)
  else
    got=$(grep -c '"stream":"stdout"' "$out" || true)
  fi
  report "$mode" "$got" "$times"
}

# report NAME LINES_GOT "WALL USER SYS"
report() {
  python3 -c '
import sys
mode, got, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
wall, user, system = (float(x) for x in sys.argv[4].split())
cpu = user + system
print(f"{mode:<7} {got:>9} lines  wall {wall:6.2f}s = {got / wall:>9.0f} lines/s"
      f"  cpu {cpu:6.2f}s = {cpu * 1e9 / max(got, 1):6.0f} ns/line"
      f"  (not written: {total - got})")
' "$1" "$2" "$((LINES * SERVICES))" "$3"
}

# The same lines through s6-log (one writer per service, one s6-log each).
run_s6() {
  local TIMEFORMAT='%R %U %S' times i got
  rm -rf "$work"/s6-*
  times=$( { time (
    for ((i = 0; i < SERVICES; i++)); do
      # One file as large as s6-log allows: no rotation during the run.
      yes "$LINE" | head -n "$LINES" | s6-log t s268435455 "$work/s6-$i" &
    done
    wait
  ); } 2>&1 )
  got=$(cat "$work"/s6-*/current | wc -l)
  report s6-log "$got" "$times"
}

echo "oneinit log throughput: $SERVICES service(s) x $LINES lines, binary $BIN"
run stdout "$work/stdout.jsonl"
echo "  (every stdout line is JSON: $(python3 -c '
import json,sys
n=0
for l in open(sys.argv[1]):
    json.loads(l); n+=1
print(n, "records parsed")' "$work/stdout.jsonl"))"
run file /dev/null
if command -v s6-log > /dev/null; then
  run_s6
else
  echo "s6-log      (not installed: apt-get install s6)"
fi
