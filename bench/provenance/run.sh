#!/usr/bin/env bash
# The provenance evaluation in one command: the synthetic corpus, then a corpus of tiny
# language models trained here with Debian's python3-torch (a few minutes on 2 cores).
# Usage: bench/provenance/run.sh [BUILD_DIR]   (set WP_CORPUS_STEPS to change training length)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
[ -x "$BUILD/bench/eval_provenance" ] || { echo "build first: bash tools/build.sh" >&2; exit 2; }
"$BUILD/bench/eval_provenance"
echo
CORPUS=$(mktemp -d "${TMPDIR:-/tmp}/weightprint-corpus-XXXXXX")
trap 'rm -rf "$CORPUS"' EXIT
/usr/bin/python3 bench/provenance/make_trained_corpus.py "$CORPUS" >&2
"$BUILD/bench/eval_provenance" --corpus "$CORPUS"
