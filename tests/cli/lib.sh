# Shared helpers for the CLI tests: a temp dir removed on exit, and assertions that print what
# was expected and what came out.
set -uo pipefail
WP=${1:?usage: $0 PATH_TO_WEIGHTPRINT}
T=$(mktemp -d "${TMPDIR:-/tmp}/weightprint-cli-XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -9 "$SERVER_PID"; fi
  rm -rf "$T"
}
trap cleanup EXIT
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; shift; printf '%s\n' "$@" | sed 's/^/       /'; }

# expect_ok NAME PATTERN CMD...: CMD exits 0 and its output matches the extended regex PATTERN.
expect_ok() {
  local name=$1 pattern=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -Eq -- "$pattern" <<<"$out"; then pass "$name"; else
    fail "$name" "exit $rc, expected /$pattern/ in:" "$out"; fi
}

# expect_fail NAME PATTERN CMD...: CMD exits non-zero and its output matches PATTERN.
expect_fail() {
  local name=$1 pattern=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 0 ] && grep -Eq -- "$pattern" <<<"$out"; then pass "$name"; else
    fail "$name" "exit $rc, expected failure with /$pattern/ in:" "$out"; fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
