#!/usr/bin/env bash
# Load benchmark of the API: `GET /v1/services` with 100 services configured,
# driven by wrk (Debian package `wrk`). Reports requests/s, p99 latency and
# oneinit's RSS (peak and after) sampled during the run.
#
#   scripts/bench_api.sh                     # release build, 20 s, 2 threads, 32 connections
#   DURATION=10s CONNECTIONS=64 scripts/bench_api.sh
#   ONEINIT_BIN=target/debug/oneinit scripts/bench_api.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-20s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
SERVICES=${SERVICES:-100}
BIN=${ONEINIT_BIN:-}
if [[ -z "$BIN" ]]; then
    cargo build --quiet --release --bin oneinit
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/oneinit"
fi
command -v wrk >/dev/null || { echo "bench_api.sh: wrk is missing: apt-get install -y wrk" >&2; exit 2; }

WORK=$(mktemp -d)
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

{
    echo "services:"
    for i in $(seq -w 1 "$SERVICES"); do
        echo "  svc$i:"
        echo "    command: [\"sleep\", \"100000\"]"
        echo "    description: \"benchmark service $i\""
    done
} > "$WORK/oneinit.yaml"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ONEINIT_RUNTIME_DIR="$WORK/rt" "$BIN" --config "$WORK/oneinit.yaml" \
    --api-listen "127.0.0.1:$PORT" --log-level warn > "$WORK/oneinit.log" 2>&1 &
PID=$!
URL="http://127.0.0.1:$PORT/v1/services"
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
count=$(curl -fsS "$URL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["services"]))')
[[ "$count" == "$SERVICES" ]] || { echo "bench_api.sh: expected $SERVICES services, got $count" >&2; exit 1; }
bytes=$(curl -fsS "$URL" | wc -c)

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
rss_before=$(rss_kib)
peak=$rss_before
(
    while kill -0 "$PID" 2>/dev/null; do rss_kib; sleep 0.2; done
) > "$WORK/rss.txt" 2>/dev/null &
SAMPLER=$!

wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$URL" > "$WORK/wrk.txt"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
peak=$(sort -n "$WORK/rss.txt" | tail -1)
rss_after=$(rss_kib)

rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
errors=$(grep -E "Non-2xx|Socket errors" "$WORK/wrk.txt" || true)

cat "$WORK/wrk.txt"
echo
echo "== GET /v1/services, $SERVICES services ($bytes bytes per answer), $THREADS threads, $CONNECTIONS connections, $DURATION"
echo "requests/s:   $rps"
echo "latency p50:  $p50"
echo "latency p99:  $p99"
echo "oneinit RSS:  ${rss_before} KiB before, ${peak} KiB peak during the run, ${rss_after} KiB after"
if [[ -n "$errors" ]]; then
    echo "errors:       $errors"
    exit 1
fi
