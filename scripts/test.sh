#!/usr/bin/env bash
# Runs the whole test suite: every Rust test (unit, integration against the
# real binary, PID-1 under unshare, headless-Chromium dashboard), then the
# schemathesis run of the API against its own OpenAPI document. Installs what
# the tests need when it is missing, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
status=0
cargo test --workspace --all-targets --no-fail-fast 2>&1 || status=$?
echo "== schemathesis against /v1/openapi.json"
timeout 600 bash scripts/schemathesis.sh 2>&1 || status=$?
exit $status
