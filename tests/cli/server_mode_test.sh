#!/usr/bin/env bash
# The same commands against a real server on a loopback ephemeral port.
source "$(dirname "$0")/lib.sh"
DB="$T/db"
M="$T/models"
"$WP" demo --models-only --workdir "$M" >/dev/null

"$WP" serve --db "$DB" --listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do   # at most 10 s
  PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
if [ -z "$PORT" ]; then fail "server start" "$(cat "$T/server.log")"; finish; exit 1; fi
pass "server start on port $PORT"
S="127.0.0.1:$PORT"

expect_ok "remote register" "registered org/base" \
  "$WP" --server "$S" register "$M/base.safetensors" --name org/base
expect_ok "remote register 2" "registered org/other" \
  "$WP" --server "$S" register "$M/other.safetensors" --name org/other
expect_ok "remote retry is idempotent" "registered org/base" \
  "$WP" --server "$S" register "$M/base.safetensors" --name org/base
expect_fail "remote conflict" "ALREADY_EXISTS" \
  "$WP" --server "$S" register "$M/other.safetensors" --name org/base
expect_ok "remote list" "org/other" "$WP" --server "$S" models list
expect_ok "remote query derived" "derived from org/base" \
  "$WP" --server "$S" query "$M/finetune-bf16.safetensors"
expect_ok "remote query identical" "identical to org/base" \
  "$WP" --server "$S" query "$M/cast-f16.safetensors"
expect_ok "remote query unrelated" "no registered source" \
  "$WP" --server "$S" query "$M/independent.safetensors"
expect_ok "remote query tensor" "derived from org/base" \
  "$WP" --server "$S" query "$M/finetune-bf16.safetensors" --tensor model.embed_tokens.weight
expect_ok "remote stats" "models: +2" "$WP" --server "$S" stats
expect_ok "remote delete" "deleted org/other" "$WP" --server "$S" models delete org/other
expect_fail "remote not found" "NOT_FOUND" "$WP" --server "$S" models show org/other
expect_fail "unreachable server" "UNAVAILABLE" "$WP" --server 127.0.0.1:1 stats

kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SERVER_PID" 2>/dev/null; then fail "graceful shutdown" "still running"; else
  wait "$SERVER_PID"; rc=$?
  if [ $rc -eq 0 ]; then pass "graceful shutdown"; else fail "graceful shutdown" "exit $rc"; fi
fi
# The audit trail the server wrote names the loopback peer.
expect_ok "remote audit" "delete +org/other .*from ipv4:127.0.0.1" "$WP" --db "$DB" audit

# A server with tokens: writes need --token-file, and the trail names the token.
printf 'ci-writer writer %s\nci-reader reader %s\n' wsecret-0123456789abcdef \
  rsecret-0123456789abcdef > "$T/tokens"
printf 'wsecret-0123456789abcdef\n' > "$T/writer.token"
printf 'rsecret-0123456789abcdef\n' > "$T/reader.token"
"$WP" serve --db "$T/db2" --listen 127.0.0.1:0 --tokens "$T/tokens" >"$T/server2.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do   # at most 10 s
  PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server2.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
if [ -z "$PORT" ]; then fail "token server start" "$(cat "$T/server2.log")"; finish; exit 1; fi
S2="127.0.0.1:$PORT"
expect_fail "no token" "UNAUTHENTICATED" \
  "$WP" --server "$S2" register "$M/base.safetensors" --name org/base
expect_fail "reader token" "PERMISSION_DENIED" \
  "$WP" --server "$S2" --token-file "$T/reader.token" register "$M/base.safetensors" --name org/base
expect_ok "writer token" "registered org/base" \
  "$WP" --server "$S2" --token-file "$T/writer.token" register "$M/base.safetensors" --name org/base
expect_ok "audit names the token" "register +org/base .*by ci-writer \[writer\]" \
  "$WP" --server "$S2" audit
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done

# What the server stored is there for the embedded CLI afterwards.
expect_ok "persisted" "org/base" "$WP" --db "$DB" models list
expect_ok "persisted query" "derived from org/base" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors"
finish
