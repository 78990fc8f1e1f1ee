#!/usr/bin/env bash
# Runs the whole test suite: every Rust test (unit, integration against the
# real binary, PID-1 under unshare, headless-Chromium dashboard), then the
# schemathesis run of the API against its own OpenAPI document, then the
# check that vendor/actix-http is the crates.io release plus its patch
# (scripts/check-vendor.sh), then the
# stress test in its reduced size (scripts/stress.py --small: crash loops,
# API hammering and reloads; nothing lost, no zombie, no fd or memory kept),
# then a short run of every fuzz target (scripts/fuzz.sh 20).
# Installs what the tests need when it is missing, so it works on a fresh
# machine.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
scripts/install-test-deps.sh || exit 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Tests that need root are #[ignore = "needs root ..."]: as root they run
# with the rest; otherwise they show as "ignored" (never as passed) and the
# summary below counts them.
ignored=()
if [ "$(id -u)" -eq 0 ]; then
    ignored=(-- --include-ignored)
fi
# The static tarballs that tests/main/scratch.rs and docker_build.rs run.
echo "== static (musl) builds: scripts/build-static.sh all"
scripts/build-static.sh all
static_status=$?
cargo test --workspace --all-targets --no-fail-fast "${ignored[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
[ $static_status -eq 0 ] || status=$static_status
echo "== schemathesis against /v1/openapi.json"
timeout 600 bash scripts/schemathesis.sh 2>&1
st=$?
[ $st -eq 0 ] || status=$st
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
[ $st -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
echo "== vendored actix-http = crates.io release + vendor/actix-http.patch, [patch] in effect"
timeout 300 scripts/check-vendor.sh 2>&1
st=$?
if [ $st -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=$st; fi
echo "== stress test, reduced size (scripts/stress.py --small)"
timeout 300 python3 scripts/stress.py --small --oneinit "${CARGO_TARGET_DIR:-target}/debug/oneinit" 2>&1
st=$?
if [ $st -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=$st; fi
echo "== fuzz smoke: every cargo-fuzz target for 20 s (scripts/fuzz.sh)"
# Installs nightly and cargo-fuzz when missing and builds the targets with
# sanitizers: several minutes on a fresh machine, about 2 once built.
timeout 2400 scripts/fuzz.sh 20 2>&1
st=$?
if [ $st -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=$st; fi
not_run=$(grep -Eo '^test result: .* ([0-9]+) ignored' "$log" | grep -Eo '[0-9]+ ignored' | awk '{s+=$1} END {print s+0}')
echo "tests: $passed passed, $failed failed, $not_run not run (need root)"
exit $status
