#!/usr/bin/env bash
# Offline bundles end to end: `weightprint fingerprint` writes bundles of real model files,
# `weightprint ingest` loads them into a fresh database and, with --server, through a real
# `weightprint serve` on a loopback ephemeral port; the answers to queries are the same, fsck
# finds the store clean, and a damaged bundle fails the command naming the file with nothing
# stored.
source "$(dirname "$0")/lib.sh"
M="$T/models"
B="$T/bundles"
mkdir -p "$B"
"$WP" demo --models-only --workdir "$M" >/dev/null

expect_ok "fingerprint base" "base.wpb" \
  "$WP" fingerprint "$M/base.safetensors" --name org/base -o "$B/base.wpb"
expect_ok "fingerprint other" "other.wpb" \
  "$WP" fingerprint "$M/other.safetensors" --name org/other -o "$B/other.wpb"

# A copy of base.wpb with one byte of its body flipped: its checksum no longer holds.
cp "$B/base.wpb" "$B/damaged.wpb"
size=$(stat -c %s "$B/damaged.wpb")
offset=$((size / 2))
byte=$(dd if="$B/damaged.wpb" bs=1 skip="$offset" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $(( (byte + 1) % 256 )))" |
  dd of="$B/damaged.wpb" bs=1 seek="$offset" conv=notrunc 2>/dev/null
if cmp -s "$B/base.wpb" "$B/damaged.wpb"; then fail "damage a bundle" "copy unchanged"; fi

# Embedded: a fresh database.
DB="$T/db"
expect_ok "ingest" "ingested 2 models" "$WP" --db "$DB" ingest "$B/base.wpb" "$B/other.wpb"
expect_ok "ingested list" "org/other" "$WP" --db "$DB" models list
expect_ok "query derived" "derived from org/base" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors"
expect_ok "query unrelated" "no registered source" \
  "$WP" --db "$DB" query "$M/independent.safetensors"
expect_ok "fsck clean after ingest" "no problems found" "$WP" --db "$DB" fsck
expect_ok "ingest again unchanged" "0 models .* 2 unchanged" \
  "$WP" --db "$DB" ingest "$B/base.wpb" "$B/other.wpb"

DB2="$T/db2"
expect_fail "damaged bundle named" "damaged\.wpb" \
  "$WP" --db "$DB2" ingest "$B/other.wpb" "$B/damaged.wpb"
expect_ok "damaged bundle stored nothing" "models: +0" "$WP" --db "$DB2" stats
expect_fail "missing bundle named" "nowhere\.wpb" "$WP" --db "$DB2" ingest "$B/nowhere.wpb"

# The same through a server.
"$WP" serve --db "$T/served" --listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do   # at most 10 s
  PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
if [ -z "$PORT" ]; then fail "server start" "$(cat "$T/server.log")"; finish; exit 1; fi
S="127.0.0.1:$PORT"
expect_fail "remote damaged bundle named" "damaged\.wpb" \
  "$WP" --server "$S" ingest "$B/other.wpb" "$B/damaged.wpb"
expect_ok "remote damaged bundle stored nothing" "models: +0" "$WP" --server "$S" stats
expect_ok "remote ingest" "ingested 2 models" \
  "$WP" --server "$S" ingest "$B/base.wpb" "$B/other.wpb"
expect_ok "remote ingest json" '"action": "register-unchanged"' \
  "$WP" --server "$S" ingest --json "$B/base.wpb"
expect_ok "remote query derived" "derived from org/base" \
  "$WP" --server "$S" query "$M/finetune-bf16.safetensors"
expect_ok "remote query unrelated" "no registered source" \
  "$WP" --server "$S" query "$M/independent.safetensors"
# Remote and embedded ingests answer alike; only the registration time differs, and the trust
# flag: an embedded ingest is the operators' own, a remote writer's is not.
"$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --json > "$T/embedded.json" 2>&1
"$WP" --server "$S" query "$M/finetune-bf16.safetensors" --json > "$T/remote.json" 2>&1
strip() { grep -Ev '"(created_unix|trusted)"' "$1"; }
if diff <(strip "$T/embedded.json") <(strip "$T/remote.json") >"$T/diff.txt"; then
  pass "remote and embedded answers agree"
else
  fail "remote and embedded answers agree" "$(head -20 "$T/diff.txt")"
fi
expect_ok "remote ingest untrusted" '"trusted": false' cat "$T/remote.json"
expect_ok "remote ingest audited" "register +org/other .*from ipv4:127.0.0.1" \
  "$WP" --server "$S" audit
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
expect_ok "fsck clean after remote ingest" "no problems found" "$WP" --db "$T/served" fsck

finish
