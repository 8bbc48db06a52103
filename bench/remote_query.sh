#!/usr/bin/env bash
# Remote query figures: a 2.1 GB bf16 model (bench/make_model, 4 layers of 7B shapes) registered,
# a fine-tune stand-in (noise 0.3) and an unrelated model served by lighttpd on loopback, each
# queried by URL and from its local path. Prints bytes fetched against the file size, time, and
# both verdicts. Usage: bench/remote_query.sh [BUILD_DIR] [SCRATCH_DIR]
set -euo pipefail
BIN=${1:-build}
SCRATCH=${2:-/tmp/weightprint-remote-bench}
W="$BIN/client/weightprint"
mkdir -p "$SCRATCH/www"
[ -f "$SCRATCH/base.safetensors" ] || "$BIN/bench/make_model" "$SCRATCH/base.safetensors" 4 >/dev/null
[ -f "$SCRATCH/www/tuned.safetensors" ] ||
  "$BIN/bench/make_model" "$SCRATCH/www/tuned.safetensors" 4 0.3 >/dev/null
[ -f "$SCRATCH/www/other.safetensors" ] ||
  "$BIN/bench/make_model" "$SCRATCH/www/other.safetensors" 4 0 7 >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$SCRATCH/lighttpd.conf" <<CONF
server.document-root = "$SCRATCH/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$SCRATCH/lighttpd.log"
CONF
lighttpd -D -f "$SCRATCH/lighttpd.conf" &
LIGHTTPD=$!
trap 'kill $LIGHTTPD' EXIT
sleep 1

DB="$SCRATCH/db"
rm -rf "$DB"
"$W" --db "$DB" register "$SCRATCH/base.safetensors" --name bench/base >/dev/null
for m in tuned other; do
  echo "== $m ($(stat -c %s "$SCRATCH/www/$m.safetensors") bytes)"
  /usr/bin/time -f "local query: %e s, peak RSS %M KB" \
    "$W" --db "$DB" query "$SCRATCH/www/$m.safetensors" 2>"$SCRATCH/local.time" |
    grep -E "^verdict" | sed 's/^/local  /'
  tail -1 "$SCRATCH/local.time"
  /usr/bin/time -f "remote query: %e s, peak RSS %M KB" \
    "$W" --db "$DB" query "http://127.0.0.1:$PORT/$m.safetensors" 2>"$SCRATCH/remote.time" |
    grep -E "^verdict|^fetched" | sed 's/^/remote /'
  tail -1 "$SCRATCH/remote.time"
done
