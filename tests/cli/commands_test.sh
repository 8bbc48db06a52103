#!/usr/bin/env bash
# Every command in embedded mode, including the errors a person sees for bad input.
source "$(dirname "$0")/lib.sh"
DB="$T/db"
M="$T/models"
expect_ok "write models" "written" "$WP" demo --models-only --workdir "$M"
expect_ok "register" "registered org/base" \
  "$WP" --db "$DB" register "$M/base.safetensors" --name org/base --revision r1 \
  --license apache-2.0 --source https://example.invalid/base --base-model none
expect_ok "register json" '"name": "org/other"' \
  "$WP" --db "$DB" register "$M/other.safetensors" --name org/other --json
expect_ok "re-register the same weights" "registered org/base@r1" \
  "$WP" --db "$DB" register "$M/base.safetensors" --name org/base --revision r1
expect_fail "re-register other weights" "ALREADY_EXISTS.*--replace" \
  "$WP" --db "$DB" register "$M/other.safetensors" --name org/base --revision r1
expect_ok "list" "org/base@r1" "$WP" --db "$DB" models list
expect_ok "list prefix" "^ID" "$WP" --db "$DB" models list --prefix org/o --limit 1
expect_ok "show" "license +apache-2.0" "$WP" --db "$DB" models show org/base
expect_ok "show tensors" "model.norm.weight +F32 +informative" \
  "$WP" --db "$DB" models show org/base@r1 --tensors
expect_ok "query derived" "derived from org/base@r1" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors"
expect_ok "query json" '"relation": "derived"' \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --json
expect_ok "query verbose" "per-tensor best matches" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --verbose
expect_ok "query identical" "identical to org/base@r1" \
  "$WP" --db "$DB" query "$M/cast-f16.safetensors"
expect_ok "query unrelated" "no registered source" \
  "$WP" --db "$DB" query "$M/independent.safetensors"
expect_ok "query tensor" "derived from org/base@r1 tensor model.layers.2.mlp.up_proj.weight" \
  "$WP" --db "$DB" query "$M/finetune-bf16.safetensors" --tensor model.layers.2.mlp.up_proj.weight
expect_fail "query missing tensor" "no tensor named" \
  "$WP" --db "$DB" query "$M/base.safetensors" --tensor nope
expect_ok "stats" "models: +2" "$WP" --db "$DB" stats
expect_ok "calibrate" "calibrated from" "$WP" --db "$DB" calibrate

# Bad input: a clear error naming the file and offset, and nothing already stored is lost.
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":' > "$T/truncated.safetensors"
expect_fail "malformed file" "truncated.safetensors.*offset" \
  "$WP" --db "$DB" register "$T/truncated.safetensors" --name org/bad
head -c 3000 "$M/base.safetensors" > "$T/cut.safetensors"
expect_fail "cut file" "cut.safetensors.*offset" "$WP" --db "$DB" query "$T/cut.safetensors"
expect_fail "missing path" "NOT_FOUND" "$WP" --db "$DB" query "$T/does-not-exist"
expect_ok "store intact" "models: +2" "$WP" --db "$DB" stats

expect_ok "delete" "deleted org/other" "$WP" --db "$DB" models delete org/other
expect_fail "deleted is gone" "NOT_FOUND" "$WP" --db "$DB" models show org/other
# History: replacing needs --replace, and the trail keeps every write, deletions included.
expect_ok "register scratch" "registered org/scratch" \
  "$WP" --db "$DB" register "$M/independent.safetensors" --name org/scratch
expect_ok "replace scratch" "registered org/scratch" \
  "$WP" --db "$DB" register "$M/other.safetensors" --name org/scratch --replace
expect_ok "audit" "replace +org/scratch .*by local:" "$WP" --db "$DB" audit
expect_ok "audit keeps deletions" "delete +org/other" "$WP" --db "$DB" audit
expect_ok "audit json" '"action": "register-unchanged"' "$WP" --db "$DB" audit --json
expect_ok "audit since the future" "no audit entries" "$WP" --db "$DB" audit --since 2099-01-01
expect_fail "audit bad since" "expected YYYY-MM-DD" "$WP" --db "$DB" audit --since yesterday
expect_ok "help names the default db" "local/share/weightprint/db" "$WP" --help
finish
