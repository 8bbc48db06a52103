#!/usr/bin/env bash
# README command 2: set up, build, and run every test suite (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
WEIGHTPRINT_TEST_DEPS=1 bash tools/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 600
