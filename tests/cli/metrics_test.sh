#!/usr/bin/env bash
# `weightprint serve --metrics`: a real server on loopback ephemeral ports, real calls that
# succeed and fail, the page scraped over HTTP, checked by Prometheus's own parser
# (`promtool check metrics`, Debian package prometheus) and by metrics_check.py: the counters
# moved by exactly the calls made, and the size gauges equal the registry's stats.
source "$(dirname "$0")/lib.sh"
CHECK="$(dirname "$0")/metrics_check.py"
M="$T/models"
"$WP" demo --models-only --workdir "$M" >/dev/null

if ! command -v promtool >/dev/null; then
  fail "promtool present" "install the test packages: WEIGHTPRINT_TEST_DEPS=1 tools/install-deps.sh"
  finish; exit 1
fi

scrape() {  # scrape PORT FILE: GET /metrics, checked by promtool
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10) as r:
    ctype = r.headers.get("Content-Type", "")
    if not ctype.startswith("text/plain; version=0.0.4"):
        sys.exit(f"Content-Type {ctype!r}")
    open(sys.argv[2], "wb").write(r.read())
PY
}

# start_server LOG ARGS...: starts `serve` and waits for its ports (SERVER_PID, PORT, MPORT).
start_server() {
  local log=$1; shift
  "$WP" serve "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  PORT=""; MPORT=""
  for _ in $(seq 1 100); do   # at most 10 s
    PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    MPORT=$(sed -n 's/.*metrics on http:\/\/127\.0\.0\.1:\([0-9]*\)\/metrics.*/\1/p' "$log")
    [ -n "$PORT" ] && [ -n "$MPORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

expect_fail "bad metrics address" "not HOST:PORT" \
  "$WP" serve --db "$T/db0" --listen 127.0.0.1:0 --metrics 9100
expect_fail "metrics address without a host" "not HOST:PORT" \
  "$WP" serve --db "$T/db0" --listen 127.0.0.1:0 --metrics :9100
expect_fail "metrics port out of range" "not HOST:PORT" \
  "$WP" serve --db "$T/db0" --listen 127.0.0.1:0 --metrics 127.0.0.1:70000

if ! start_server "$T/server.log" --db "$T/db" --listen 127.0.0.1:0 --metrics 127.0.0.1:0; then
  fail "server start" "$(cat "$T/server.log")"; finish; exit 1
fi
pass "server start: gRPC on $PORT, metrics on $MPORT"
S="127.0.0.1:$PORT"

# A second server asking for the same metrics port must fail to start, saying so.
expect_fail "metrics port in use" "could not listen on 127.0.0.1:$MPORT" \
  "$WP" serve --db "$T/db2" --listen 127.0.0.1:0 --metrics "127.0.0.1:$MPORT"

if scrape "$MPORT" "$T/page0.txt"; then pass "scrape"; else fail "scrape" "GET /metrics failed"; fi
expect_ok "promtool accepts the fresh page" "" promtool check metrics <"$T/page0.txt"
code=$(/usr/bin/python3 -c "import sys,urllib.request,urllib.error
try: urllib.request.urlopen('http://127.0.0.1:$MPORT/other', timeout=10)
except urllib.error.HTTPError as e: print(e.code)" 2>&1)
if [ "$code" = 404 ]; then pass "other paths are 404"; else fail "other paths are 404" "$code"; fi

# Calls that succeed and calls that fail (a refused write, an unknown model).
expect_ok "register" "registered org/base" \
  "$WP" --server "$S" register "$M/base.safetensors" --name org/base
expect_ok "register 2" "registered org/other" \
  "$WP" --server "$S" register "$M/other.safetensors" --name org/other
expect_fail "refused write" "ALREADY_EXISTS" \
  "$WP" --server "$S" register "$M/other.safetensors" --name org/base
expect_fail "unknown model" "NOT_FOUND" "$WP" --server "$S" models show org/missing
expect_fail "unknown model, deleted" "NOT_FOUND" "$WP" --server "$S" models delete org/missing
expect_ok "query" "derived from org/base" \
  "$WP" --server "$S" query "$M/finetune-bf16.safetensors"
expect_ok "list" "org/other" "$WP" --server "$S" models list

scrape "$MPORT" "$T/page1.txt"
expect_ok "promtool accepts the page after calls" "" promtool check metrics <"$T/page1.txt"
cat >"$T/expected1.json" <<'JSON'
{"RegisterModel OK": 2, "RegisterModel ALREADY_EXISTS": 1, "GetModel NOT_FOUND": 1,
 "DeleteModel NOT_FOUND": 1, "QueryModel OK": 1, "ListModels OK": 1}
JSON
expect_ok "counters moved by exactly the calls made" "" \
  /usr/bin/python3 "$CHECK" delta "$T/page0.txt" "$T/page1.txt" "$T/expected1.json"

# The size gauges against the registry's own stats (one Stats call, counted next).
"$WP" --server "$S" stats --json >"$T/stats.json"
expect_ok "size gauges equal the registry's stats" "" \
  /usr/bin/python3 "$CHECK" stats "$T/page1.txt" "$T/stats.json"
scrape "$MPORT" "$T/page2.txt"
echo '{"Stats OK": 1}' >"$T/expected2.json"
expect_ok "the stats call counted once" "" \
  /usr/bin/python3 "$CHECK" delta "$T/page1.txt" "$T/page2.txt" "$T/expected2.json"

# The checker itself must fail on a page that does not match (so a broken endpoint fails).
echo '{"Stats OK": 2}' >"$T/wrong.json"
expect_fail "the checker fails on a wrong count" "moved by 1, expected 2" \
  /usr/bin/python3 "$CHECK" delta "$T/page1.txt" "$T/page2.txt" "$T/wrong.json"

kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SERVER_PID" 2>/dev/null; then fail "graceful shutdown" "still running"; else
  wait "$SERVER_PID"; rc=$?
  if [ $rc -eq 0 ]; then pass "graceful shutdown"; else fail "graceful shutdown" "exit $rc"; fi
fi

# Writes refused by the access policy count under their codes too.
printf 'ci-writer writer %s\nci-reader reader %s\n' wsecret-0123456789abcdef \
  rsecret-0123456789abcdef >"$T/tokens"
printf 'rsecret-0123456789abcdef\n' >"$T/reader.token"
if ! start_server "$T/server3.log" --db "$T/db3" --listen 127.0.0.1:0 --tokens "$T/tokens" \
    --metrics 127.0.0.1:0; then
  fail "token server start" "$(cat "$T/server3.log")"; finish; exit 1
fi
S3="127.0.0.1:$PORT"
scrape "$MPORT" "$T/page3.txt"
expect_fail "write without a token" "UNAUTHENTICATED" \
  "$WP" --server "$S3" register "$M/base.safetensors" --name org/base
expect_fail "write with a reader token" "PERMISSION_DENIED" \
  "$WP" --server "$S3" --token-file "$T/reader.token" register "$M/base.safetensors" --name org/base
scrape "$MPORT" "$T/page4.txt"
expect_ok "promtool accepts the token server's page" "" promtool check metrics <"$T/page4.txt"
echo '{"RegisterModel UNAUTHENTICATED": 1, "RegisterModel PERMISSION_DENIED": 1}' >"$T/expected4.json"
expect_ok "refused writes counted by code" "" \
  /usr/bin/python3 "$CHECK" delta "$T/page3.txt" "$T/page4.txt" "$T/expected4.json"
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
finish
