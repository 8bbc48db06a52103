#!/usr/bin/env bash
# The commands people act on: report/query --html, audit-model, declared vs evidenced lineage
# from a model card, --fail-on exit codes, --version, JSON errors, --tensor, a Hugging Face hub
# cache, and the message a second process gets while the registry is open elsewhere.
source "$(dirname "$0")/lib.sh"
DB="$T/db"
M="$T/models"
V="$T/variants"

# expect_code NAME CODE PATTERN CMD...: CMD exits with CODE and its output matches PATTERN.
expect_code() {
  local name=$1 code=$2 pattern=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq "$code" ] && grep -Eq -- "$pattern" <<<"$out"; then pass "$name"; else
    fail "$name" "exit $rc (expected $code), expected /$pattern/ in:" "$out"; fi
}

expect_ok "write models" "written" "$WP" demo --models-only --workdir "$M"
python3 "$(dirname "$0")/make_variants.py" "$M" "$V" || fail "make variants" "python3 failed"
expect_ok "register base" "registered org/base" \
  "$WP" --db "$DB" register "$M/base.safetensors" --name org/base
expect_ok "register other" "registered org/other" \
  "$WP" --db "$DB" register "$M/other.safetensors" --name org/other

expect_ok "version" "weightprint [0-9]+\.[0-9]+\.[0-9]+.*fingerprint version 2 \(reads versions 1 to 2\).*store schema version [0-9]+" \
  bash -c "'$WP' --version | tr '\n' ' '"
expect_ok "help lists exit codes" "Exit codes:.* 12 +query --fail-on undeclared" \
  bash -c "'$WP' --help | tr '\n' ' '"

# Lineage: the composite's card declares org/base, the weights show org/other's layers.
expect_ok "unsupported claim" "unsupported claim: org/base is declared" \
  "$WP" --db "$DB" query "$V/composite"
expect_ok "undeclared reuse" "undeclared reuse: .*org/other.*model card does not name it" \
  "$WP" --db "$DB" query "$V/composite"
out=$("$WP" --db "$DB" query "$V/composite" --json 2>/dev/null)
expect_ok "lineage json" '"declared_in": "model card"' echo "$out"
expect_ok "lineage json flags" '"kind": "unsupported_claim"' echo "$out"
expect_ok "layer similarity json" '"query_stack": "vision_tower.layers"' echo "$out"
expect_ok "--base-model overrides the card" "declared base org/other is supported" \
  "$WP" --db "$DB" query "$V/composite" --base-model org/other
expect_ok "unregistered declared base" "cannot check: declared base org/nowhere" \
  "$WP" --db "$DB" query "$V/composite" --base-model org/nowhere

# The from-scratch audit: the vision tower has a registered origin, the language model none.
expect_ok "audit-model" "vision_tower +164352 +100.0% +0.0% +org/other 100.0%" \
  "$WP" --db "$DB" audit-model "$V/composite"
expect_ok "audit whole model" "whole model +394304 +41.7% +58.3%" \
  "$WP" --db "$DB" audit-model "$V/composite"
expect_ok "audit statement" "not proof of independent training" \
  "$WP" --db "$DB" audit-model "$V/composite"
expect_ok "audit json" '"share_without_origin": 0.58' \
  "$WP" --db "$DB" audit-model "$V/composite" --json
expect_ok "report has the audit" "from-scratch audit \(2 registered models" \
  "$WP" --db "$DB" report "$V/composite"

# --fail-on: findings get their own exit codes; a clean query exits 0.
expect_code "fail-on derived" 11 "condition holds: derived from org/base" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --fail-on derived
expect_code "fail-on identical (cast)" 10 "identical to org/base" \
  "$WP" --db "$DB" query "$M/cast-f16.safetensors" --fail-on identical
expect_code "fail-on identical (fine-tune)" 0 "derived from org/base" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --fail-on identical
expect_code "fail-on undeclared" 12 "undeclared reuse" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --fail-on undeclared
expect_code "fail-on declared" 0 "declared base org/base is supported" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --fail-on undeclared --base-model org/base
expect_code "fail-on first that holds" 12 "undeclared" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --fail-on identical,undeclared,derived
expect_code "fail-on independent" 0 "no registered source" \
  "$WP" --db "$DB" query "$M/independent.safetensors" --fail-on derived,undeclared
expect_code "fail-on bad value" 2 "not one of identical, derived, undeclared" \
  "$WP" --db "$DB" query "$M/base.safetensors" --fail-on similar

# Errors: usage is 2, failures 1, and with --json they are JSON on stdout.
expect_code "usage error" 2 "" "$WP" --db "$DB" query
expect_code "missing path" 1 "NOT_FOUND" "$WP" --db "$DB" query "$T/nope"
out=$("$WP" --db "$DB" query "$T/nope" --json 2>/dev/null); rc=$?
if [ $rc -eq 1 ] && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["kind"]=="error" and d["code"]=="NOT_FOUND" and d["exit_code"]==1' "$out"; then
  pass "json error"; else fail "json error" "exit $rc:" "$out"; fi
out=$("$WP" --db "$DB" query --json 2>/dev/null); rc=$?
if [ $rc -eq 2 ] && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["kind"]=="error" and d["code"]=="USAGE"' "$out"; then
  pass "json usage error"; else fail "json usage error" "exit $rc:" "$out"; fi

# An unrelated candidate prints a finite z.
expect_ok "finite z" "z < -8|no registered source" \
  "$WP" --db "$DB" query "$M/independent.safetensors" --all
if "$WP" --db "$DB" query "$M/independent.safetensors" --all 2>&1 | grep -q -- "-inf"; then
  fail "no -inf" "a z of -inf was printed"; else pass "no -inf"; fi

# --tensor answers for one tensor (that only it is read is checked in indexer_tests).
expect_ok "tensor query" "derived from org/base tensor model.layers.2.mlp.up_proj.weight" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --tensor model.layers.2.mlp.up_proj.weight
expect_fail "tensor not found" "no tensor named 'nope'" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --tensor nope

# A Hugging Face hub cache: every snapshot registered as ORG/NAME@commit, refs printed.
HUB="$T/hub"
mkdir -p "$HUB/models--acme--tiny/blobs" "$HUB/models--acme--tiny/refs" \
  "$HUB/models--acme--tiny/snapshots/abc123" "$HUB/models--acme--tiny/snapshots/def456"
cp "$M/other.safetensors" "$HUB/models--acme--tiny/blobs/1a2b"
cp "$M/independent.safetensors" "$HUB/models--acme--tiny/blobs/3c4d"
printf -- '---\nbase_model: org/other\nbase_model_relation: finetune\n---\n' \
  > "$HUB/models--acme--tiny/blobs/5e6f"
ln -s ../../blobs/1a2b "$HUB/models--acme--tiny/snapshots/abc123/model.safetensors"
ln -s ../../blobs/5e6f "$HUB/models--acme--tiny/snapshots/abc123/README.md"
ln -s ../../blobs/3c4d "$HUB/models--acme--tiny/snapshots/def456/model.safetensors"
printf 'abc123' > "$HUB/models--acme--tiny/refs/main"
HDB="$T/hubdb"
expect_ok "register hub cache" "2 snapshots registered" "$WP" --db "$HDB" register "$HUB"
expect_ok "hub refs" "acme/tiny@abc123 \(refs: main\)" "$WP" --db "$HDB" register "$HUB"
expect_ok "hub rerun skips" "0 snapshots registered, 2 already registered" \
  "$WP" --db "$HDB" register "$HUB"
expect_ok "hub names" "acme/tiny@def456" "$WP" --db "$HDB" models list
expect_ok "hub card stored" "base model +org/other" "$WP" --db "$HDB" models show acme/tiny@abc123
expect_ok "hub one repo by ref" "1 snapshots registered" \
  "$WP" --db "$T/hubdb2" register "$HUB/models--acme--tiny" --revision main
echo secret > "$T/outside"
ln -s "$T/outside" "$HUB/models--acme--tiny/snapshots/def456/pytorch_model.bin"
expect_code "hub escape refused" 1 "outside the cache repository" \
  "$WP" --db "$T/hubdb3" register "$HUB"

# A second process while the embedded registry is open: a clear message and exit 3.
"$WP" --db "$DB" serve --listen 127.0.0.1:0 > "$T/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "serving" "$T/serve.log" && break; sleep 0.1; done
expect_code "registry in use" 3 "UNAVAILABLE.*in use by another process \(PID $SERVER_PID holds .*LOCK\).*weightprint serve" \
  "$WP" --db "$DB" stats
# The same report sections come back from a server.
ADDR=$(sed -n 's/^weightprint: serving .* on //p' "$T/serve.log")
expect_ok "remote lineage" "unsupported claim: org/base" \
  "$WP" --server "$ADDR" query "$V/composite"
expect_ok "remote audit" "vision_tower +164352 +100.0%" \
  "$WP" --server "$ADDR" audit-model "$V/composite"
expect_ok "remote layer similarity" '"source_stack": "model.layers"' \
  "$WP" --server "$ADDR" query "$V/composite" --json
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
finish
