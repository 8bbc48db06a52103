#!/usr/bin/env bash
# The README's main job: the demo registers, queries and checks its verdicts (embedded).
source "$(dirname "$0")/lib.sh"
expect_ok "demo verdicts" "all 3 verdicts as expected" "$WP" demo --workdir "$T/demo"
expect_ok "demo derived line" "derived from demo/base-model" "$WP" demo --workdir "$T/demo"
expect_ok "demo identical line" "identical to demo/base-model" "$WP" demo --workdir "$T/demo"
finish
