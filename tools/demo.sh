#!/usr/bin/env bash
# README command 1: set up, build, and run the demo on the embedded default (a local database
# under ./weightprint-demo/db; no server). Exits non-zero if any verdict is not the expected one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
rm -rf weightprint-demo
exec "${BUILD_DIR:-build}/client/weightprint" demo --workdir weightprint-demo
