#!/usr/bin/env bash
# Regenerates docs/ui-desktop.png and docs/ui-narrow.png: starts oneinit on a
# demo config with the API on a loopback port and photographs the dashboard
# in headless Chromium (Debian chromium + chromium-driver, pip selenium).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bin oneinit
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/demo.yaml" <<YAML
services:
  migrate:
    type: oneshot
    command: ["sh", "-c", "echo migrating; sleep 1; echo done"]
  db:
    command: ["sh", "-c", "echo db ready; exec sleep 100000"]
  web:
    requires: [db, migrate]
    command: ["sh", "-c", "while true; do echo GET / 200; sleep 1; done"]
  worker:
    instances: 2
    wants: [db]
    command: ["sh", "-c", "while true; do echo job done; sleep 2; done"]
  flaky:
    command: ["sh", "-c", "sleep 2; exit 1"]
    restart: {delay: 1s, max_retries: 1}
  report:
    autostart: false
    type: oneshot
    command: ["echo", "report"]
YAML
ONEINIT_RUNTIME_DIR="$work/run" target/debug/oneinit --config "$work/demo.yaml" --api-listen "127.0.0.1:$port" > "$work/out.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 6
python3 tests/e2e/ui_e2e.py --url "http://127.0.0.1:$port" --operator-token x --viewer-token x --dir "$work" --screenshots docs
