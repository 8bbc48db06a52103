#!/usr/bin/env bash
# fsck, backup and restore from the command line: exit codes, text and JSON, embedded and
# through a real server on a loopback port (the backup taken while it serves).
source "$(dirname "$0")/lib.sh"
DB="$T/db"
M="$T/models"
"$WP" demo --models-only --workdir "$M" >/dev/null
"$WP" --db "$DB" register "$M/base.safetensors" --name org/base >/dev/null
"$WP" --db "$DB" register "$M/other.safetensors" --name org/other >/dev/null

expect_ok "fsck clean" "no problems found" "$WP" --db "$DB" fsck
expect_ok "fsck json" '"clean": true' "$WP" --db "$DB" fsck --json
expect_fail "fsck of nothing" "NOT_FOUND" "$WP" --db "$T/none" fsck
expect_fail "fsck via server refused" "fsck reads the store directly" \
  "$WP" --server 127.0.0.1:1 fsck

# A truncated index: found (exit 4), repaired (exit 0), then clean.
truncate -s 100 "$DB/index/sketch.wpidx"
"$WP" --db "$DB" fsck >"$T/fsck.txt" 2>&1; rc=$?
if [ $rc -eq 4 ] && grep -q "index_corrupt" "$T/fsck.txt"; then pass "fsck finds damage, exit 4"; else
  fail "fsck finds damage, exit 4" "exit $rc" "$(cat "$T/fsck.txt")"; fi
expect_ok "fsck --repair" "all repaired" "$WP" --db "$DB" fsck --repair
expect_ok "fsck after repair" "no problems found" "$WP" --db "$DB" fsck

# Embedded backup and restore, answers unchanged.
BEFORE=$("$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --json)
expect_ok "backup embedded" "backed up 2 models" "$WP" --db "$DB" backup "$T/bk1"
expect_ok "restore" "restored 2 models" "$WP" --db "$T/restored" restore "$T/bk1"
AFTER=$("$WP" --db "$T/restored" query "$M/finetune-bf16.safetensors" --json)
if [ "$BEFORE" = "$AFTER" ]; then pass "restored answers identical"; else
  fail "restored answers identical" "$(diff <(echo "$BEFORE") <(echo "$AFTER") | head -20)"; fi
expect_fail "restore into non-empty" "not empty" "$WP" --db "$T/restored" restore "$T/bk1"
expect_ok "restore --force" "restored" "$WP" --db "$T/restored" restore "$T/bk1" --force
sed -i 's/^counts 2 /counts 3 /' "$T/bk1/MANIFEST.wpbackup"
expect_fail "restore refuses altered manifest" "checksum" "$WP" --db "$T/r2" restore "$T/bk1"

# Through a running server: backup online, fsck refused while it holds the store.
"$WP" serve --db "$DB" --listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
if [ -z "$PORT" ]; then fail "server start" "$(cat "$T/server.log")"; finish; exit 1; fi
S="127.0.0.1:$PORT"
"$WP" fsck --db "$DB" >"$T/busy.txt" 2>&1; rc=$?
if [ $rc -eq 3 ] && grep -q "stop the server" "$T/busy.txt"; then pass "fsck refuses a served store"; else
  fail "fsck refuses a served store" "exit $rc" "$(cat "$T/busy.txt")"; fi
expect_ok "backup through the server" '"index_included": true' \
  "$WP" --server "$S" backup "$T/bk2" --json
expect_fail "backup through the server needs an absolute dir" "absolute" \
  "$WP" --server "$S" backup relative-dir
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
expect_ok "restore the online backup" "restored 2 models" "$WP" --db "$T/r3" restore "$T/bk2"
expect_ok "fsck the restored copy" "no problems found" "$WP" --db "$T/r3" fsck
finish
