#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 30), one
# after the other, starting from the committed seed corpus. Fails (exit 1)
# on any crash, panic, hang (an input over 10 s) or an allocation over
# 512 MiB; the input is kept in fuzz/artifacts/TARGET/ — turn it into a
# regression test. Leak detection is off: statics initialised once (the
# router's pattern cache, the runtime) are reported as leaks, while memory
# that grows per input is caught by -rss_limit_mb. Prints the executions per target at the end.
#
#   scripts/fuzz.sh [SECONDS] [TARGET]...
#
# FUZZ_SANITIZER=none (CI's smoke run) builds without AddressSanitizer:
# panics, hangs and memory blow-ups are still caught, the build is several
# times faster. The default is `address`.
#
# Needs a nightly toolchain and cargo-fuzz; installs both when missing
# (rustup toolchain install nightly; cargo install cargo-fuzz).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
secs=${1:-30}
shift || true
case $secs in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET]..." >&2; exit 2 ;; esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal || exit 2
fi
if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked || exit 2
fi

cd fuzz || exit 2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
sanitizer=${FUZZ_SANITIZER:-address}
echo "== building the fuzz targets (nightly, sanitizer: $sanitizer)"
build_log=$(mktemp)
if ! cargo +nightly fuzz build -s "$sanitizer" >"$build_log" 2>&1; then
  tail -n 40 "$build_log"; rm -f "$build_log"; exit 1
fi
rm -f "$build_log"
status=0
summary=()
for t in "${targets[@]}"; do
  # New inputs go to a working corpus outside git; the seeds stay as committed.
  work=target/corpus/$t
  mkdir -p "$work" "corpus/$t"
  log=$(mktemp)
  echo "== fuzzing $t for ${secs}s"
  cargo +nightly fuzz run -s "$sanitizer" "$t" "$work" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -detect_leaks=0 -print_final_stats=1 >"$log" 2>&1
  st=$?
  runs=$(grep -Eo '^Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -n 1)
  if [ $st -ne 0 ]; then
    status=1
    tail -n 40 "$log"
    summary+=("$t: FAILED (exit $st); input in fuzz/artifacts/$t/")
  else
    summary+=("$t: ${runs:-?} executions in ${secs}s, no crash")
  fi
  rm -f "$log"
done
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $status
