#!/usr/bin/env bash
# Builds the release binaries of oneinit and onecli with profile-guided
# optimization (PGO), the build that scripts/bench measures:
#
#   scripts/build-release.sh          # prints the directory of the two binaries
#
# 1. an instrumented build (-Cprofile-generate), in $TARGET/pgo/generate;
# 2. a training run of it (scripts/pgo/train.py: 1,000 services, log
#    floods, checks, a crash loop, the REST API, SIGTERM);
# 3. the final build with that profile (-Cprofile-use), in $TARGET/pgo/use.
#    Code the training never ran (`-profile-summary-cold-count=0`) goes to
#    .text.unlikely, kept apart by the linker (`-z keep-text-section-prefix`):
#    the kernel maps code in 64 KiB windows around each page a process
#    touches, so cold code mixed with the code that runs is resident too.
#    The functions that ran are also laid out first in their sections, in
#    the order of their call counts (`--symbol-ordering-file`), so the few
#    that rustc marks cold (#[cold]) but that do run sit together.
#    At 1,000 services this takes ~1 MiB off oneinit's RSS (scripts/bench).
#
# The binaries behave as `cargo build --release` ones do (same source, same
# profile settings); only where the compiler puts and inlines code differs.
# Needs the rustup component llvm-tools (installed here when missing) and
# python3. Without llvm-profdata it falls back to a plain release build.
# The builds use their own target directories, so `cargo build --release`
# elsewhere is not invalidated by the different RUSTFLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
WORK=$TARGET/pgo
BASE_FLAGS=${RUSTFLAGS:-}

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA=$sysroot/lib/rustlib/$host/bin/llvm-profdata
if [ ! -x "$PROFDATA" ] && command -v rustup >/dev/null; then
  rustup component add llvm-tools >&2 || true
fi
if [ ! -x "$PROFDATA" ]; then
  echo "build-release: no llvm-profdata (rustup component add llvm-tools); building without PGO" >&2
  cargo build --release --bins --target-dir "$WORK/use" >&2
  echo "$WORK/use/release"
  exit 0
fi

rm -rf "$WORK/profiles"
mkdir -p "$WORK/profiles"
echo "build-release: 1/3 instrumented build" >&2
RUSTFLAGS="$BASE_FLAGS -Cprofile-generate=$WORK/profiles" \
  cargo build --release --bin oneinit --target-dir "$WORK/generate" >&2
echo "build-release: 2/3 training run" >&2
LLVM_PROFILE_FILE="$WORK/profiles/oneinit-%p-%m.profraw" \
  python3 scripts/pgo/train.py "$WORK/generate/release/oneinit" >&2
"$PROFDATA" merge -o "$WORK/oneinit.profdata" "$WORK"/profiles/oneinit-*.profraw
# The functions that ran, most called first (symbol names; a local
# function's record is "file;symbol").
"$PROFDATA" show --all-functions --counts "$WORK/oneinit.profdata" | python3 -c '
import sys
name, ran = None, {}
for line in sys.stdin:
    if line.startswith("  ") and not line.startswith("    ") and line.rstrip().endswith(":"):
        name = line.strip()[:-1].split(";")[-1]
    elif name and line.strip().startswith("Block counts:"):
        counts = line.split(":", 1)[1].strip(" []\n")
        entry = int(counts.split(",")[0]) if counts else 0
        if entry > 0:
            ran[name] = max(entry, ran.get(name, 0))
        name = None
for name, _ in sorted(ran.items(), key=lambda kv: -kv[1]):
    print(name)
' > "$WORK/order.txt"
echo "build-release: 3/3 optimized build" >&2
RUSTFLAGS="$BASE_FLAGS -Cprofile-use=$WORK/oneinit.profdata -Cllvm-args=-profile-summary-cold-count=0 -Clink-arg=-Wl,-z,keep-text-section-prefix -Clink-arg=-Wl,--symbol-ordering-file=$WORK/order.txt -Clink-arg=-Wl,--no-warn-symbol-ordering" \
  cargo build --release --bins --target-dir "$WORK/use" >&2
echo "$WORK/use/release"
