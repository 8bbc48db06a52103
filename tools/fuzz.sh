#!/usr/bin/env bash
# Builds every libFuzzer target with clang (ASan + UBSan, the whole tree instrumented) in
# ./build-fuzz (or $FUZZ_BUILD_DIR) and runs each for FUZZ_SECONDS (default 60) from its seed
# corpus in fuzz/corpus/<name>/ (target <name>_fuzzer). New inputs the fuzzer finds go to a scratch directory, never into the
# repository. Exits non-zero on the first crash, leak or sanitizer report; the input that
# caused it is kept in build-fuzz/artifacts/ (turn it into a named regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
bash tools/install-deps.sh
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is missing (tools/install-deps.sh installs it)" >&2
  exit 1
fi
# A tree configured for fuzzing already (tools/sanitize.sh asan's build-asan, which CI passes as
# FUZZ_BUILD_DIR) is reused as it is; otherwise one is configured with the fuzzers only.
if ! grep -qs "^WEIGHTPRINT_BUILD_FUZZERS:BOOL=ON" "$BUILD/CMakeCache.txt"; then
  CXX=clang++ CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
    -DWEIGHTPRINT_BUILD_FUZZERS=ON -DWEIGHTPRINT_BUILD_TESTS=OFF -DWEIGHTPRINT_BUILD_BENCH=OFF \
    >/dev/null
fi
targets=()
for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")_fuzzer"); done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}"
mkdir -p "$BUILD/artifacts"
status=0
for target in "${targets[@]}"; do
  format=${target%_fuzzer}
  scratch=$(mktemp -d)
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s from fuzz/corpus/$format"
  if ! "$BUILD/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 \
       -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
       -artifact_prefix="$BUILD/artifacts/$target-" "$scratch" "fuzz/corpus/$format" \
       > "$BUILD/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; last lines of $BUILD/$target.log:" >&2
    tail -40 "$BUILD/$target.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$BUILD/$target.log" | tail -2 | sed 's/^/  /'
  fi
  rm -rf "$scratch"
done
exit $status
