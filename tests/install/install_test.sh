#!/usr/bin/env bash
# The installed package, used from outside the tree: installs the build tree into a temporary
# prefix, configures and builds tests/install/consumer against it (find_package(weightprint)),
# runs the remote program against the real `weightprint serve` on a loopback ephemeral port and
# the embedded one on a temporary database, and checks that the remote program links neither
# RocksDB nor FAISS nor the server.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR [CXX_COMPILER [LINK_FLAGS]]
# CXX_COMPILER and LINK_FLAGS are the build tree's: a sanitizer build's libraries need the
# consumer linked by the same compiler with the same -fsanitize flags.
set -uo pipefail
BUILD=${1:?usage: $0 BUILD_DIR SOURCE_DIR [CXX_COMPILER [LINK_FLAGS]]}
SRC=${2:?usage: $0 BUILD_DIR SOURCE_DIR [CXX_COMPILER [LINK_FLAGS]]}
consumer_args=()
if [ -n "${3:-}" ]; then consumer_args+=("-DCMAKE_CXX_COMPILER=$3"); fi
if [ -n "${4:-}" ]; then consumer_args+=("-DCMAKE_EXE_LINKER_FLAGS=$4"); fi
WP_FOR_LIB=/dev/null
source "$SRC/tests/cli/lib.sh" "$WP_FOR_LIB"

PREFIX="$T/prefix"
if out=$(cmake --install "$BUILD" --prefix "$PREFIX" 2>&1); then pass "cmake --install"; else
  fail "cmake --install" "$out"; finish; exit 1; fi
WP="$PREFIX/bin/weightprint"
for f in lib/cmake/weightprint/weightprintConfig.cmake \
         lib/cmake/weightprint/weightprintConfigVersion.cmake \
         lib/cmake/weightprint/weightprintClientTargets.cmake \
         include/weightprint/client/registry_client.h \
         include/weightprint/weightprint/v1/registry.grpc.pb.h \
         lib/libwp_client.a; do
  if [ -e "$PREFIX/$f" ]; then pass "installed $f"; else fail "installed $f" "missing"; fi
done
# Only public headers: nothing from an internal/ folder, nothing of the server.
leaked=$(cd "$PREFIX/include/weightprint" && find . -path '*/internal/*' -o -name server.h \
         -o -name service.h -o -path './registry/service/*')
if [ -z "$leaked" ]; then pass "no internal or server headers installed"; else
  fail "no internal or server headers installed" "$leaked"; fi

# The remote-only build: COMPONENTS client must configure and build without the embedded part.
if out=$(cmake -S "$SRC/tests/install/consumer" -B "$T/remote-only" -DCONSUMER_EMBEDDED=OFF \
           "${consumer_args[@]}" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release 2>&1) &&
   out=$(cmake --build "$T/remote-only" -j2 2>&1); then
  pass "consumer builds with COMPONENTS client"
else
  fail "consumer builds with COMPONENTS client" "$out"; finish; exit 1
fi
if out=$(cmake -S "$SRC/tests/install/consumer" -B "$T/consumer" \
           "${consumer_args[@]}" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release 2>&1) &&
   out=$(cmake --build "$T/consumer" -j2 2>&1); then
  pass "consumer builds with weightprint::client and weightprint::embedded"
else
  fail "consumer builds with weightprint::client and weightprint::embedded" "$out"; finish; exit 1
fi
REMOTE="$T/remote-only/remote_models"
EMBEDDED="$T/consumer/embedded_models"

# The thin client links no storage, no vector index and no server code.
libs=$(ldd "$REMOTE")
if grep -Eq 'rocksdb|faiss' <<<"$libs"; then fail "remote consumer: ldd shows no RocksDB/FAISS" "$libs"
else pass "remote consumer: ldd shows no RocksDB/FAISS"; fi
syms=$(nm -C "$REMOTE" | grep -E ' (rocksdb|faiss)::|weightprint::registry::(Registry|FingerprintStore|SketchIndex)::|RunningServer|RegistryService' | head -5)
if [ -z "$syms" ]; then pass "remote consumer: no RocksDB, FAISS, registry or server symbols"; else
  fail "remote consumer: no RocksDB, FAISS, registry or server symbols" "$syms"; fi
libs=$(ldd "$EMBEDDED")
if grep -q rocksdb <<<"$libs"; then pass "embedded consumer links RocksDB"; else
  fail "embedded consumer links RocksDB" "$libs"; fi

# Models to register and query, written by the installed CLI.
M="$T/models"
expect_ok "demo models written by the installed CLI" "written" "$WP" demo --models-only --workdir "$M"
ORIG="$M/base.safetensors"

"$WP" serve --db "$T/server-db" --listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server.log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
if [ -z "$PORT" ]; then fail "server start" "$(cat "$T/server.log")"; finish; exit 1; fi
S=127.0.0.1:$PORT
expect_ok "register through the installed CLI" "registered" \
  "$WP" --server "$S" register "$ORIG" --name consumer/original
expect_ok "remote consumer lists the server's models" "model consumer/original tensors [1-9]" \
  "$REMOTE" "$S"
expect_ok "remote consumer fingerprints locally and queries" \
  "candidate consumer/original identical" "$REMOTE" "$S" "$ORIG"
expect_fail "remote consumer reports an unreachable server" "list: " \
  "$REMOTE" 127.0.0.1:1

expect_ok "embedded consumer registers and lists" "consumer/embedded" \
  "$EMBEDDED" "$T/embedded-db" "$ORIG" consumer/embedded
expect_ok "the CLI sees the embedded consumer's registration" "consumer/embedded" \
  "$WP" --db "$T/embedded-db" models list
finish
