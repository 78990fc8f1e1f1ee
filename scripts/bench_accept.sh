#!/usr/bin/env bash
# Accept-mode connection rate: oneinit per-demand `socket.accept: true`
# (one short-lived process per connection, inetd style) beside the classic
# tool doing the same job, `socat TCP-LISTEN:PORT,fork EXEC:...`.
#
# Each connection starts `/bin/echo ok` with the connection as stdin and
# stdout; the client reads until EOF. Prints connections/s for both and the
# ratio oneinit/socat (above 1: oneinit is faster).
#
#   scripts/bench_accept.sh [CONNECTIONS] [CONCURRENCY]
#   ONEINIT=path/to/oneinit scripts/bench_accept.sh    # default: target/release/oneinit
#
# Needs python3 and socat (apt-get install -y socat).
set -euo pipefail

CONNS=${1:-2000}
CONC=${2:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ONEINIT=${ONEINIT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/oneinit}
command -v socat >/dev/null || { echo "socat not found: apt-get install -y socat" >&2; exit 2; }
[ -x "$ONEINIT" ] || { echo "$ONEINIT not found: cargo build --release --bin oneinit, or set ONEINIT" >&2; exit 2; }

WORK=$(mktemp -d /tmp/bench-accept.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The load: CONNS connections over CONC threads; prints connections/s.
cat > "$WORK/load.py" <<'EOF'
import socket, sys, threading, time
port, total, conc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
left = [total]; lock = threading.Lock(); bad = [0]
def worker():
    while True:
        with lock:
            if left[0] == 0: return
            left[0] -= 1
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            data = b""
            while True:
                chunk = s.recv(64)
                if not chunk: break
                data += chunk
            s.close()
            if data != b"ok\n": bad[0] += 1
        except OSError:
            bad[0] += 1
# Wait (bounded) until the server accepts.
for _ in range(250):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
    except OSError:
        time.sleep(0.02)
time.sleep(0.3)
t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(conc)]
for t in ts: t.start()
for t in ts: t.join()
dt = time.monotonic() - t0
print("%.1f %d" % (total / dt, bad[0]))
EOF

run_load() { timeout 300 python3 "$WORK/load.py" "$1" "$CONNS" "$CONC"; }

# oneinit
P1=$(free_port)
cat > "$WORK/oneinit.yaml" <<EOF
services:
  echo:
    type: per-demand
    max_instances: $CONC
    command: ["/bin/echo", "ok"]
    socket:
      listen: ["tcp://127.0.0.1:$P1"]
      accept: true
EOF
ONEINIT_RUNTIME_DIR="$WORK/run" "$ONEINIT" --config "$WORK/oneinit.yaml" --log-level warn >"$WORK/oneinit.log" 2>&1 &
PIDS+=($!)
read -r R1 BAD1 < <(run_load "$P1")

# socat
P2=$(free_port)
socat "TCP-LISTEN:$P2,fork,reuseaddr,backlog=1024" "EXEC:/bin/echo ok" >"$WORK/socat.log" 2>&1 &
PIDS+=($!)
read -r R2 BAD2 < <(run_load "$P2")

echo "connections=$CONNS concurrency=$CONC (each connection: fork+exec /bin/echo ok)"
echo "oneinit per-demand accept: $R1 conn/s (failed: $BAD1)"
echo "socat fork EXEC:          $R2 conn/s (failed: $BAD2)"
python3 -c "print('ratio oneinit/socat: %.2f' % ($R1 / $R2))"
