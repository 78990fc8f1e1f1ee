#!/usr/bin/env bash
# Runs schemathesis against a real oneinit on a TCP port with a sample
# config: every response must match /v1/openapi.json and none may be a 5xx.
# Exits non-zero on any failure; bounded to ~3 minutes.
#
#   scripts/schemathesis.sh            # builds oneinit (debug) if needed
#   ONEINIT_BIN=target/release/oneinit scripts/schemathesis.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${ONEINIT_BIN:-}
if [[ -z "$BIN" ]]; then
    cargo build --quiet --bin oneinit
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/oneinit"
fi
if ! command -v st >/dev/null 2>&1 && ! python3 -c 'import schemathesis' 2>/dev/null; then
    python3 -m pip install --quiet 'schemathesis>=4,<5'
fi
ST=(st)
command -v st >/dev/null 2>&1 || ST=(python3 -m schemathesis.cli)

WORK=$(mktemp -d)
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN="schemathesis-$RANDOM$RANDOM"
TOKEN_SHA=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat > "$WORK/oneinit.yaml" <<YAML
api:
  auth:
    tokens:
      - {name: schemathesis, sha256: "$TOKEN_SHA", role: admin}
services:
  st-db:
    command: ["sleep", "100000"]
  st-web:
    command: ["sh", "-c", "echo hello from web; exec sleep 100000"]
    # 'after', not 'requires': a fuzzed stop of st-db must not leave st-web
    # waiting, or a fuzzed start?wait=true&timeout=1h would outlast the run.
    after: [st-db]
  st-idle:
    command: ["sleep", "100000"]
    autostart: false
  st-job:
    type: oneshot
    command: ["echo", "done"]
YAML

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ONEINIT_RUNTIME_DIR="$WORK/rt" "$BIN" --config "$WORK/oneinit.yaml" \
    --api-listen "127.0.0.1:$PORT" --log-level warn > "$WORK/oneinit.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null

# 5xx answers: /readyz is 503 while a service is not ready and a
# ?wait=true that times out is 504 (SPEC 4); fuzzed sequences hit both. So
# the blanket not_a_server_error check is off, and status_code_conformance
# (on) fails any 5xx the document does not list: no operation lists 500,
# only the 503/504 cases above do.
EXCLUDE=(--exclude-path /v1/events)
# /metrics answers 503 until a metrics exporter runs in the build.
if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" == 503 ]]; then
    echo "schemathesis.sh: /metrics is not served by this build (503); skipping it" >&2
    EXCLUDE+=(--exclude-path /metrics)
fi
# /v1/reload refuses with 422 until reload is implemented in the engine.
if [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" "http://127.0.0.1:$PORT/v1/reload")" != 200 ]]; then
    echo "schemathesis.sh: POST /v1/reload is not supported by this build; skipping it" >&2
    EXCLUDE+=(--exclude-path /v1/reload)
fi

# /v1/events is an endless event stream: not something a fuzzer can read to the end.
status=0
# Run from the temp dir so schemathesis' .schemathesis/ cache stays out of the tree.
(cd "$WORK" && timeout 180 "${ST[@]}" run \
    "http://127.0.0.1:$PORT/v1/openapi.json" \
    -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" \
    --checks all \
    --exclude-checks not_a_server_error \
    "${EXCLUDE[@]}" \
    --phases "${ST_PHASES:-examples,fuzzing,stateful}" \
    --max-examples "${ST_MAX_EXAMPLES:-15}" \
    --request-timeout 15 \
    --workers 1 \
    --no-color) || status=$?
if ! kill -0 "$PID" 2>/dev/null; then
    echo "schemathesis.sh: oneinit died during the run; its log:" >&2
    cat "$WORK/oneinit.log" >&2
    exit 1
fi
exit $status
