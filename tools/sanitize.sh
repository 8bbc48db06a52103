#!/usr/bin/env bash
# The test suite under the sanitizers, built with clang in its own tree per configuration:
#   tools/sanitize.sh asan   every test under AddressSanitizer + UndefinedBehaviorSanitizer in
#                            ./build-asan (also the fuzzers' tree: tools/fuzz.sh reuses it when
#                            FUZZ_BUILD_DIR=build-asan)
#   tools/sanitize.sh tsan   the tests labelled "concurrent" (ctest -L concurrent) under
#                            ThreadSanitizer in ./build-tsan
# Both builds compile with -Wthread-safety -Werror=thread-safety (CMakeLists.txt, for clang), so
# a lock annotation violation fails here first. UBSan aborts on its first report; a report from
# any sanitizer fails the test that produced it. Suppressions, for third-party code only, are in
# tools/sanitizers/ with the reason for each.
# -O1 with line tables only: the sanitizers' usual build, half the compile time of -O2 -g, and
# stack traces still name file and line.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
  asan|tsan) ;;
  *) echo "usage: tools/sanitize.sh asan|tsan" >&2; exit 2 ;;
esac
WEIGHTPRINT_TEST_DEPS=1 bash tools/install-deps.sh
root=$(pwd)
jobs=$(nproc)
common=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG"
        -DWEIGHTPRINT_BUILD_TESTS=ON -DWEIGHTPRINT_BUILD_BENCH=OFF)
if command -v ccache >/dev/null && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi

if [ "$mode" = asan ]; then
  build=${ASAN_BUILD_DIR:-build-asan}
  # WEIGHTPRINT_BUILD_FUZZERS instruments the whole tree with ASan + UBSan (no recovery) and
  # libFuzzer's coverage hooks, which a test binary ignores; one tree then serves the tests and
  # the fuzzers, and CI compiles the project with clang once instead of twice.
  CXX=clang++ CC=clang cmake -S . -B "$build" "${common[@]}" -DWEIGHTPRINT_BUILD_FUZZERS=ON \
    >/dev/null
  cmake --build "$build" -j"$jobs"
  export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/tools/sanitizers/ubsan.supp"
  export LSAN_OPTIONS="suppressions=$root/tools/sanitizers/lsan.supp:print_suppressions=0"
  cd "$build"
  ctest --output-on-failure -j"$jobs" --timeout 900
else
  build=${TSAN_BUILD_DIR:-build-tsan}
  # -fdebug-info-for-profiling keeps the qualified name of every inlined function in the line
  # tables, so a TSan stack names grpcpp's inlined frames in full (grpc::internal::
  # CallbackWithSuccessTag::Set, not just Set) and tsan.supp can match them exactly.
  CXX=clang++ CC=clang cmake -S . -B "$build" "${common[@]}" -DWITH_TSAN=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -fdebug-info-for-profiling -DNDEBUG" \
    >/dev/null
  # Only the executables that hold concurrent tests.
  cmake --build "$build" -j"$jobs" --target store_tests indexer_tests integration_tests \
    metrics_tests registry_concurrency_tests
  # ignore_noninstrumented_modules: Debian's abseil, RocksDB and gRPC are not built with TSan;
  # accesses made inside them (abseil's deadlock graph, memtable memory read through pinned
  # slices) are invisible synchronisation to TSan and would be reported as races (docs/CI.md).
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$root/tools/sanitizers/tsan.supp"
  # FAISS parallelises a search with OpenMP; Debian's libgomp is not instrumented, so TSan
  # cannot see its barriers and would report every parallel loop. Our own threads are the
  # subject here: one OpenMP thread.
  export OMP_NUM_THREADS=1
  cd "$build"
  ctest --output-on-failure -j"$jobs" --timeout 900 -L concurrent
fi
