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
expect_fail "remote duplicate" "ALREADY_EXISTS" \
  "$WP" --server "$S" register "$M/base.safetensors" --name org/base
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
# What the server stored is there for the embedded CLI afterwards.
expect_ok "persisted" "org/base" "$WP" --db "$DB" models list
expect_ok "persisted query" "derived from org/base" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors"
finish
