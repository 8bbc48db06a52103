#!/usr/bin/env bash
# Builds the weightprint image from this tree and smoke-tests it: starts the server container,
# registers a small model and queries a derived one through the same image over the server's
# network, scrapes /metrics and checks the counters and the size gauges moved, then stops the
# container and checks that it exited cleanly.
#
#   deploy/smoke-image.sh [IMAGE_TAG]      (from anywhere; default tag weightprint:smoke)
#   CONTAINER_RUNTIME=podman deploy/smoke-image.sh
#
# Needs a working docker or podman (a daemon for docker) that can pull debian:12 and
# debian:12-slim. Without one it says so and exits 77 ("not run"): it never reports success for
# an image it did not build and run. Exit 0: built and passed; 1: failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=${1:-weightprint:smoke}
NOT_RUN=77

say() { echo "smoke-image: $*"; }

runtime=""
for candidate in ${CONTAINER_RUNTIME:-docker podman}; do
  command -v "$candidate" >/dev/null 2>&1 || continue
  if "$candidate" info >/dev/null 2>&1; then runtime=$candidate; break; fi
  say "$candidate is installed but not usable here: $("$candidate" info 2>&1 | tail -n 1)"
done
if [ -z "$runtime" ]; then
  say "NOT RUN: no working container runtime (tried: ${CONTAINER_RUNTIME:-docker podman})."
  say "The image was not built or tested. Run this script where docker or podman works."
  exit $NOT_RUN
fi
say "runtime: $runtime $("$runtime" version --format '{{.Client.Version}}' 2>/dev/null || true)"

T=$(mktemp -d "${TMPDIR:-/tmp}/weightprint-smoke-XXXXXX")
NAME="weightprint-smoke-$$"
cleanup() {
  "$runtime" rm -f "$NAME" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
failures=0
check() {  # check WHAT CONDITION-EXIT-STATUS
  if [ "$2" -eq 0 ]; then echo "ok   - $1"; else echo "FAIL - $1"; failures=$((failures + 1)); fi
}

say "building $TAG (this compiles the project inside the image: minutes)"
if ! "$runtime" build -f "$ROOT/deploy/Dockerfile" -t "$TAG" "$ROOT"; then
  say "FAILED: the image did not build"
  exit 1
fi
check "image builds" 0

# Demo models, written by the image itself into a directory its UID can write.
mkdir -p "$T/models" && chmod 0777 "$T/models"
"$runtime" run --rm -v "$T/models:/models" "$TAG" demo --models-only --workdir /models >/dev/null
check "the image writes the demo models" $?

"$runtime" run -d --name "$NAME" -p 127.0.0.1::50051 -p 127.0.0.1::9464 "$TAG" >/dev/null
check "server container starts" $?
metrics_port=$("$runtime" port "$NAME" 9464/tcp | head -n 1 | sed 's/.*://')
up=1
for _ in $(seq 1 100); do
  if "$runtime" run --rm --network "container:$NAME" "$TAG" --server 127.0.0.1:50051 stats \
      >/dev/null 2>&1; then up=0; break; fi
  sleep 0.2
done
check "server answers gRPC" $up

client() { "$runtime" run --rm --network "container:$NAME" -v "$T/models:/models:ro" "$TAG" \
  --server 127.0.0.1:50051 "$@"; }
out=$(client register /models/base.safetensors --name org/base 2>&1)
grep -q "registered org/base" <<<"$out"; check "register through the container network" $?
out=$(client query /models/finetune-bf16.safetensors 2>&1)
grep -q "derived from org/base" <<<"$out"; check "query finds the registered source" $?

page="$T/metrics.txt"
python3 - "$metrics_port" "$page" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10) as r:
    open(sys.argv[2], "wb").write(r.read())
PY
check "scrape /metrics on the published port" $?
if command -v promtool >/dev/null; then promtool check metrics <"$page"; check "promtool check metrics" $?; fi
grep -q '^weightprint_registry_models 1$' "$page"; check "the page counts one model" $?
grep -q 'method="RegisterModel",code="OK"} 1$' "$page"; check "one RegisterModel counted" $?
grep -q 'method="QueryModel",code="OK"} 1$' "$page"; check "one QueryModel counted" $?

"$runtime" stop -t 30 "$NAME" >/dev/null
code=$("$runtime" inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ]; check "graceful stop (exit code $code)" $?

if [ "$failures" -ne 0 ]; then say "FAILED: $failures checks"; exit 1; fi
say "PASSED: $TAG built and smoke-tested with $runtime on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
