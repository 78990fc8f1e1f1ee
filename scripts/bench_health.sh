#!/usr/bin/env bash
# Health-check load benchmark: N services (default 200), each with a 1 s HTTP
# health check against one local HTTP server, for DURATION seconds (default
# 60). Prints oneinit's CPU seconds per minute (utime+stime from
# /proc/PID/stat, after a warm-up) and the checks the server answered.
#
# usage: scripts/bench_health.sh [ONEINIT_BINARY] [SERVICES] [DURATION_SECONDS]
# e.g.   cargo build --release --bin oneinit && scripts/bench_health.sh
set -euo pipefail

BIN=${1:-target/release/oneinit}
N=${2:-200}
DURATION=${3:-60}
WARMUP=${WARMUP:-5}

[ -x "$BIN" ] || { echo "bench_health: $BIN not found; build it first (cargo build --release --bin oneinit)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench_health: python3 is needed for the HTTP server" >&2; exit 2; }

tmp=$(mktemp -d)
server_pid=""
oneinit_pid=""
cleanup() {
    [ -n "$oneinit_pid" ] && kill -TERM "$oneinit_pid" 2>/dev/null && sleep 2 && kill -KILL "$oneinit_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A threaded HTTP server that counts requests into $tmp/hits on SIGUSR1.
cat >"$tmp/server.py" <<'PY'
import http.server, signal, sys, threading
hits = 0
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global hits
        with lock:
            hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
def dump(*_):
    with open(sys.argv[1] + "/hits", "w") as f:
        f.write(str(hits))
signal.signal(signal.SIGUSR1, dump)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + "/port", "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$tmp/server.py" "$tmp" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")

{
    echo "services:"
    for i in $(seq 1 "$N"); do
        cat <<YAML
  svc$i:
    command: ["sleep", "100000"]
    health:
      - http: {url: "http://127.0.0.1:$port/health/$i"}
        interval: 1s
        timeout: 2s
YAML
    done
} >"$tmp/oneinit.yaml"

ONEINIT_RUNTIME_DIR="$tmp/run" "$BIN" --config "$tmp/oneinit.yaml" --log-level warn >"$tmp/oneinit.log" 2>&1 &
oneinit_pid=$!

ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$oneinit_pid/stat"; }
hits() { kill -USR1 "$server_pid"; sleep 0.2; cat "$tmp/hits"; }

sleep "$WARMUP"
kill -0 "$oneinit_pid" || { echo "bench_health: oneinit exited; log:" >&2; cat "$tmp/oneinit.log" >&2; exit 1; }
c0=$(cpu); h0=$(hits); t0=$(date +%s.%N)
sleep "$DURATION"
c1=$(cpu); h1=$(hits); t1=$(date +%s.%N)
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$oneinit_pid/status")
unhealthy=$(grep -c '"event":"unhealthy"' "$tmp/oneinit.log" || true)

awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tk="$ticks" -v h0="$h0" -v h1="$h1" \
    -v n="$N" -v rss="$rss" -v bin="$BIN" -v unhealthy="$unhealthy" 'BEGIN {
    secs = t1 - t0; cpu = (c1 - c0) / tk
    printf "binary: %s\nservices: %d, 1 s HTTP checks, measured %.1f s\n", bin, n, secs
    printf "checks answered: %d (%.1f/s)\n", h1 - h0, (h1 - h0) / secs
    printf "oneinit CPU: %.2f s over the window = %.2f CPU seconds per minute (%.1f%% of one core)\n", cpu, cpu * 60 / secs, cpu * 100 / secs
    printf "oneinit RSS: %.1f MiB\n", rss / 1024
    printf "unhealthy events (checks that failed 3 times in a row): %d\n", unhealthy
}'
