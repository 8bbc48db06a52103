#!/usr/bin/env bash
# The HTML report in a real browser: Debian's headless Chromium loads each page, the page's own
# self-check must report "ok" in the DOM, the console must hold nothing but that self-check's
# line (no script error, no refused fetch), the heatmap SVGs and tables must be there with
# plausible sizes, hostile model names must stay text, and a screenshot must be a real,
# non-blank PNG of the requested size. Chromium missing is a failure, never a skip.
source "$(dirname "$0")/lib.sh"
DB="$T/db"
M="$T/models"
V="$T/variants"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "FAIL - chromium is not installed; the HTML report cannot be tested in a browser." >&2
  echo "       Install the test packages: WEIGHTPRINT_TEST_DEPS=1 bash tools/install-deps.sh" >&2
  exit 1
fi
browser() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-extensions \
    --no-first-run --user-data-dir="$T/chromium-profile" --enable-logging=stderr --v=0 "$@"
}

expect_ok "write models" "written" "$WP" demo --models-only --workdir "$M"
python3 "$(dirname "$0")/make_variants.py" "$M" "$V" || fail "make variants" "python3 failed"
expect_ok "register base" "registered" "$WP" --db "$DB" register "$M/base.safetensors" --name org/base
# A hostile name: it must reach the page as text, never as markup.
expect_ok "register hostile" "registered" "$WP" --db "$DB" register "$M/other.safetensors" \
  --name "evil/<img src=x onerror=alert(1)><script>alert(2)</script>"
expect_ok "report --html" "HTML report written" \
  "$WP" --db "$DB" report "$V/composite" --html "$T/composite.html"
expect_ok "query --html" "HTML report written" \
  "$WP" --db "$DB" query "$V/upscaled.safetensors" --html "$T/upscaled.html"

# check_page NAME FILE HEATMAPS MIN_CELLS
check_page() {
  local name=$1 file=$2 heatmaps=$3 min_cells=$4
  local dom="$T/$name.dom" log="$T/$name.log"
  browser --dump-dom "file://$file" > "$dom" 2> "$log"
  if grep -q 'id="selfcheck" data-status="ok"' "$dom"; then pass "$name: self-check ok"; else
    fail "$name: self-check ok" "$(grep -o '<div id="selfcheck"[^<]*' "$dom" || echo 'no #selfcheck in the DOM')"; fi
  local got_maps
  got_maps=$(grep -o '<svg class="heatmap"' "$dom" | wc -l)
  if [ "$got_maps" -eq "$heatmaps" ] && grep -q "data-heatmaps=\"$heatmaps\"" "$dom"; then
    pass "$name: $heatmaps heatmap(s)"; else fail "$name: heatmaps" "found $got_maps, expected $heatmaps"; fi
  local cells
  cells=$(grep -o '<rect class="cell' "$dom" | wc -l)
  if [ "$cells" -ge "$min_cells" ]; then pass "$name: $cells heatmap cells"; else
    fail "$name: heatmap cells" "found $cells, expected at least $min_cells"; fi
  local tables
  tables=$(grep -o '<table' "$dom" | wc -l)
  if [ "$tables" -ge 4 ] && grep -q 'class="components"' "$dom" && grep -q 'class="audit"' "$dom"; then
    pass "$name: $tables tables"; else fail "$name: tables" "found $tables"; fi
  # The console: the self-check's own line is there (so console capture works), nothing else.
  local console others
  console=$(grep 'CONSOLE' "$log")
  others=$(grep 'CONSOLE' "$log" | grep -v '"weightprint self-check ok')
  if grep -q '"weightprint self-check ok' <<<"$console" && [ -z "$others" ]; then
    pass "$name: no console errors"; else fail "$name: console" "$console"; fi
  if [ "$(grep -o '<script' "$dom" | wc -l)" -eq 1 ]; then pass "$name: one script (its own)"; else
    fail "$name: scripts" "$(grep -o '<script[^>]*>' "$dom")"; fi

  local png="$T/$name.png"
  browser --hide-scrollbars --window-size=1280,2600 --screenshot="$png" "file://$file" \
    > /dev/null 2>> "$log"
  local info
  info=$(python3 - "$png" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
print(w, h, len(data))
PY
)
  read -r w h size <<<"$info"
  # A blank page compresses to a few KB; the report with its tables and heatmaps to far more.
  if [ "${w:-0}" -eq 1280 ] && [ "${h:-0}" -eq 2600 ] && [ "${size:-0}" -gt 60000 ]; then
    pass "$name: screenshot ${w}x${h}, $size bytes"; else
    fail "$name: screenshot" "got '${info}' (want 1280 2600 and > 60000 bytes)"; fi
  if [ -n "${WEIGHTPRINT_SCREENSHOT_DIR:-}" ]; then cp "$png" "$WEIGHTPRINT_SCREENSHOT_DIR/"; fi
}

# The composite: a copied vision tower (lit diagonal) and its language model (inside the null).
check_page composite "$T/composite.html" 2 32
# Depth up-scaling: 6 query layers against 4 source layers.
check_page upscaled "$T/upscaled.html" 1 24
if grep -q '&lt;script&gt;alert(2)&lt;/script&gt;' "$T/composite.dom"; then
  pass "hostile name is text"; else fail "hostile name is text" "escaped name not found"; fi
finish
