#!/usr/bin/env bash
# One command for every performance figure in docs/PERFORMANCE.md:
#   bash bench/run_perf.sh
# Builds (tools/build.sh, so dependencies are installed too), then runs
#   1. fingerprint throughput on a 2.1 GB bf16 safetensors file from page cache: xxhsum -H2,
#      weightprint (fingerprint version 2, and version 1 for comparison) with 1 thread and with
#      every core, and the numpy baseline;
#   2. peak resident memory of `weightprint register` on a 10.2 GB model;
#   3. registry scale at 10k, 100k and 1M tensors (bench/registry_scale, built through the bulk
#      path; WP_BENCH_10M=1 adds 10M), and on the largest registry, recall against HNSW search
#      breadth (bench/hnsw_breadth, when its index is HNSW);
#   4. load and soak of a `weightprint serve` process: 32 clients, 60 s of mixed queries,
#      registrations and deletions (bench/soak; fails on any error or on server memory over
#      its bound);
#   5. the remote query (bench/remote_query.sh): bytes fetched over HTTP Range requests and time,
#      against a local query of the same 2.1 GB models, served by lighttpd on loopback (another
#      6.4 GB of scratch disk);
#   6. bulk ingest from bundles against registration one model at a time (bench/bundle_ingest);
# and prints one table. Scratch files go to $WP_BENCH_DIR (default /tmp/wpbench; about 13 GB
# of disk plus 1.3 GB for the 1M registry, 13 GB more for 10M). Knobs: WP_BENCH_SKIP_10G=1
# skips step 2, WP_BENCH_SIZES="10000 100000" limits step 3, WP_BENCH_10M=1 adds 10M to it, WP_BENCH_SKIP_SOAK=1 skips step 4,
# WP_BENCH_INGEST_TENSORS (default 20000; 0 skips) sizes step 6 (bulk ingest), BUILD_DIR
# picks the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
SCRATCH=${WP_BENCH_DIR:-/tmp/wpbench}
SIZES=${WP_BENCH_SIZES:-"10000 100000 1000000"}
# The 10M step: about 13 GB of disk and 15 GB of memory at its peak (docs/PERFORMANCE.md).
if [ "${WP_BENCH_10M:-0}" = 1 ]; then SIZES="$SIZES 10000000"; fi
BUILD_DIR=$BUILD_DIR BUILD_TYPE=Release bash tools/build.sh >/dev/null
BIN="$ROOT/$BUILD_DIR"
mkdir -p "$SCRATCH"
# `value KEY FILE`: the value of a key=value pair in a benchmark's output.
value() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p" | head -1; }
median3() { sort -g | sed -n 2p; }

echo "== machine"
lscpu | grep -E "Model name|^CPU\(s\)|L2|L3" | sed 's/  */ /g'
free -g | sed -n 2p | awk '{print "Memory: " $2 " GiB"}'

echo "== 1. fingerprint throughput (2.1 GB bf16 file, page cache)"
M2G="$SCRATCH/m2g.safetensors"
[ -f "$M2G" ] || "$BIN/bench/make_model" "$M2G" 4
cat "$M2G" >/dev/null; cat "$M2G" >/dev/null  # warm the page cache
BYTES=$(stat -c %s "$M2G")
XXH=$(for i in 1 2 3; do
  # xxhsum draws progress on stderr with carriage returns; keep time's last line only.
  /usr/bin/time -f "%e" xxhsum -H2 "$M2G" 2>&1 >/dev/null | tr '\r' '\n' |
    grep -E '^[0-9.]+$' | tail -1; done | median3)
XXH_GBPS=$(python3 -c "print(f'{$BYTES/$XXH/1e9:.3f}')")
# Fingerprint version 2 (the default) and version 1, each with 1 thread and every core.
"$BIN/bench/fingerprint_file" "$M2G" 1 3 2 >"$SCRATCH/fp1.txt"
"$BIN/bench/fingerprint_file" "$M2G" 0 3 2 >"$SCRATCH/fpall.txt"
"$BIN/bench/fingerprint_file" "$M2G" 1 3 1 >"$SCRATCH/fp1_v1.txt"
"$BIN/bench/fingerprint_file" "$M2G" 0 3 1 >"$SCRATCH/fpall_v1.txt"
/usr/bin/python3 bench/numpy_stats.py "$M2G" >"$SCRATCH/numpy.txt"
FP1=$(value gbps "$SCRATCH/fp1.txt"); FPALL=$(value gbps "$SCRATCH/fpall.txt")
FP1V1=$(value gbps "$SCRATCH/fp1_v1.txt"); FPALLV1=$(value gbps "$SCRATCH/fpall_v1.txt")
NP=$(value numpy_gbps "$SCRATCH/numpy.txt"); CORES=$(nproc)
python3 - "$XXH_GBPS" "$FP1" "$FPALL" "$FP1V1" "$FPALLV1" "$NP" "$CORES" <<'PY'
import sys
xxh, one, full, one_v1, full_v1, np_, cores = map(float, sys.argv[1:])
print(f"{'':40}{'GB/s':>8}{'vs xxhsum':>11}")
print(f"{'xxhsum -H2 (1 thread)':40}{xxh:8.2f}{1:11.2f}")
print(f"{'weightprint v2, 1 thread':40}{one:8.2f}{one/xxh:11.2f}")
print(f"{'weightprint v2, %d threads' % cores:40}{full:8.2f}{full/xxh:11.2f}")
print(f"{'weightprint v1, 1 thread':40}{one_v1:8.2f}{one_v1/xxh:11.2f}")
print(f"{'weightprint v1, %d threads' % cores:40}{full_v1:8.2f}{full_v1/xxh:11.2f}")
print(f"{'numpy baseline (no hashes)':40}{np_:8.3f}{np_/xxh:11.3f}")
print(f"weightprint v2 / numpy: {one/np_:.1f}x (1 thread), per-core target 1 GB/s: "
      f"{'met' if one >= 1 else 'NOT met'}; half of xxhsum (v2, all cores): "
      f"{full/xxh:.2f}, {'met' if full >= xxh/2 else 'NOT met'}")
PY

if [ "${WP_BENCH_SKIP_10G:-0}" != 1 ]; then
  echo "== 2. peak memory registering a 10.2 GB model"
  M10G="$SCRATCH/m10g.safetensors"
  [ -f "$M10G" ] || "$BIN/bench/make_model" "$M10G" 24
  rm -rf "$SCRATCH/reg10g"
  /usr/bin/time -v "$BIN/client/weightprint" --db "$SCRATCH/reg10g" register "$M10G" \
    --name bench/10g 2>"$SCRATCH/time10g.txt" >/dev/null
  RSS=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$SCRATCH/time10g.txt")
  WALL=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$SCRATCH/time10g.txt")
  echo "register 10.2 GB: wall $WALL, peak RSS $((RSS / 1024)) MB (target < 300 MB)"
fi

echo "== 3. registry scale (bulk build: Registry::Ingest in batches of 100,000 tensors)"
# build/s: tensors per second of the whole build (generation, ingest, one calibration, index
# save); q50/q99: single-tensor query at rho 0.5, top 32, p50/p99 ms; r.5/r.3: recall@32 at
# rho 0.5 / 0.3; model: 300-tensor model query p50 ms; ld_*: 32-client load test qps.
printf "%-9s %7s %7s %6s %6s %6s %6s %5s %5s %7s %6s %6s %7s %6s %6s %4s\n" tensors build/s \
  build_s B/tens open_s q50 q99 r.5 r.3 model g_q50 g_q99 g_model ld_in ld_rpc errs
for N in $SIZES; do
  OUT="$SCRATCH/scale_$N.txt"
  rm -rf "$SCRATCH/reg_$N"
  "$BIN/bench/registry_scale" "$SCRATCH/reg_$N" "$N" 32 10 ingest >"$OUT" 2>"$SCRATCH/scale_$N.err" ||
    echo "  registry_scale $N failed: $(tail -1 "$SCRATCH/scale_$N.err")"
  v() { sed -n "s/^$1=//p" "$OUT"; }
  printf "%-9s %7s %7s %6s %6s %6s %6s %5s %5s %7s %6s %6s %7s %6s %6s %4s\n" "$(v tensors)" \
    "$(v build_tensors_per_s)" "$(v build_s)" "$(v bytes_per_tensor_at_rest)" "$(v open_s)" \
    "$(v inprocess_tensor_rho0.5_p50_ms)" "$(v inprocess_tensor_rho0.5_p99_ms)" \
    "$(v inprocess_tensor_rho0.5_recall32)" "$(v inprocess_tensor_rho0.3_recall32)" \
    "$(v inprocess_model_query_p50_ms)" "$(v grpc_tensor_rho0.5_p50_ms)" \
    "$(v grpc_tensor_rho0.5_p99_ms)" "$(v grpc_model_query_p50_ms)" "$(v inprocess_load_qps)" \
    "$(v load_qps)" "$(v load_errors)"
  echo "  index: $(v index_type_after_open); build: $(v build_cpu_s) CPU s, peak RSS $(v build_peak_rss_mb) MB;" \
    "rho 0.9: p50 $(v inprocess_tensor_rho0.9_p50_ms) ms, top-1 $(v inprocess_tensor_rho0.9_top1);" \
    "CPU per query: tensor $(v inprocess_tensor_rho0.5_process_cpu_per_query_ms) ms," \
    "model $(v inprocess_model_query_process_cpu_per_query_ms) ms, under load $(v inprocess_load_process_cpu_per_query_ms) ms" \
    "(gRPC $(v load_process_cpu_per_query_ms) ms); models found $(v inprocess_model_query_source_found)"
  LAST="$SCRATCH/reg_$N"
done
# The large tier against the exact scan (and HNSW at its widest breadth) on the same random
# data and queries: recall@32 per rho and single-query latency (bench/index_recall).
echo "== index tiers at 100k, same data: $(WP_INDEX_ONLY="SignCode,registry kernel,HNSW32" \
  "$BIN/bench/index_recall" 100000 50 | tail -n +2 | tr '\n' '|' )"
# The HNSW breadth curve, when the largest registry's index is in the HNSW tier (the default large
# tier is now sign codes, so this step normally finds nothing to measure).
if [ -f "$LAST/index/sketch.wpidx" ] && "$BIN/bench/hnsw_breadth" "$LAST/index/sketch.wpidx" \
    >"$SCRATCH/breadth.txt" 2>/dev/null; then
  echo "== recall@32 against HNSW search breadth, $(head -1 "$SCRATCH/breadth.txt")"
  tail -n +2 "$SCRATCH/breadth.txt"
fi
for N in $SIZES; do rm -rf "$SCRATCH/reg_$N"; done

if [ "${WP_BENCH_SKIP_SOAK:-0}" != 1 ]; then
  echo "== 4. load and soak: 32 clients, 60 s, mixed operations against weightprint serve"
  rm -rf "$SCRATCH/soak"
  "$BIN/bench/soak" "$BIN/client/weightprint" "$SCRATCH/soak" 32 60 256 | tee "$SCRATCH/soak.txt"
fi

echo "== 5. remote query: bytes fetched and time against a local query (2.1 GB bf16 model, lighttpd on loopback)"
bash bench/remote_query.sh "$BIN" "$SCRATCH/remote"
INGEST_N=${WP_BENCH_INGEST_TENSORS:-20000}
if [ "$INGEST_N" != 0 ]; then
  echo "== 6. bulk ingest of $INGEST_N tensors from bundles against registration one model at a time"
  "$BIN/bench/bundle_ingest" "$INGEST_N" 100 3 "$SCRATCH/bundle_ingest" | tee "$SCRATCH/ingest.txt"
  rm -rf "$SCRATCH/bundle_ingest"
fi
