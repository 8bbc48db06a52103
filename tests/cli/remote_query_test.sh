#!/usr/bin/env bash
# `weightprint query URL` end to end: the demo models served by lighttpd on a loopback port
# (with Range support) and by python3's http.server (which ignores Range); the verdict and the
# "fetched X bytes of Y" line in text, the `remote` object in JSON, the error paths.
# Usage: remote_query_test.sh PATH_TO_WEIGHTPRINT
source "$(dirname "$0")/lib.sh"

LIGHTTPD=/usr/sbin/lighttpd
[ -x "$LIGHTTPD" ] || { echo "FAIL - lighttpd is not installed (tools/install-deps.sh test deps)"; exit 1; }
"$WP" demo --workdir "$T/www" --models-only >/dev/null || { echo "FAIL - demo models"; exit 1; }
DB="$T/db"
"$WP" --db "$DB" register "$T/www/base.safetensors" --name demo/base >/dev/null

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
P=$(port)
cat >"$T/lighttpd.conf" <<CONF
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $P
server.errorlog = "$T/lighttpd.log"
CONF
"$LIGHTTPD" -D -f "$T/lighttpd.conf" & SERVER_PID=$!
wait_port "$P" || { echo "FAIL - lighttpd did not start"; exit 1; }
URL="http://127.0.0.1:$P"

local_verdict=$("$WP" --db "$DB" query "$T/www/finetune-bf16.safetensors" 2>/dev/null | grep '^verdict')
expect_ok "remote fine-tune: same verdict as the local query" "^${local_verdict//(/\\(}" \
  "$WP" --db "$DB" query "$URL/finetune-bf16.safetensors"
expect_ok "remote query prints the bytes fetched" \
  "^fetched [0-9]+ bytes of $(stat -c %s "$T/www/finetune-bf16.safetensors") \([0-9.]+%\)" \
  "$WP" --db "$DB" query "$URL/finetune-bf16.safetensors"
expect_ok "remote copy is identical" "^verdict: identical to demo/base" \
  "$WP" --db "$DB" query "$URL/base.safetensors"
expect_ok "--json carries the remote object" '"bytes_total": [0-9]+' \
  "$WP" --db "$DB" query "$URL/independent.safetensors" --json
expect_fail "missing file is a 404" "404" "$WP" --db "$DB" query "$URL/absent.safetensors"
expect_fail "--tensor refuses a URL" "USAGE" \
  "$WP" --db "$DB" query "$URL/base.safetensors" --tensor lm_head.weight
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# A server without Range support: the demo files are under 1 MiB and are read whole; a larger
# file is refused with a message that says why.
head -c $((3 << 20)) /dev/zero >"$T/www/big.safetensors"
P=$(port)
/usr/bin/python3 -m http.server "$P" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>&1 &
SERVER_PID=$!
wait_port "$P" || { echo "FAIL - http.server did not start"; exit 1; }
expect_ok "no Range support, small file: read whole" "^verdict: derived from demo/base" \
  "$WP" --db "$DB" query "http://127.0.0.1:$P/finetune-bf16.safetensors"
expect_fail "no Range support, large file: refused" "ignored the Range request" \
  "$WP" --db "$DB" query "http://127.0.0.1:$P/big.safetensors"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
finish
