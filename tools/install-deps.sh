#!/usr/bin/env bash
# Installs the Debian 12 packages weightprint builds with. Skips apt when all are present.
set -euo pipefail

# libcpp-httplib-dev serves the Prometheus metrics endpoint: Debian 12 has no prometheus-cpp,
# and cpp-httplib is a maintained embedded HTTP server it does package (docs/DEPLOY.md).
PACKAGES=(
  cmake g++ make pkg-config
  librocksdb-dev libfaiss-dev libopenblas0-openmp
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libxxhash-dev xxhash nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libonnx-dev libhdf5-dev
  libflatbuffers-dev flatbuffers-compiler
  libcurl4-openssl-dev
  libcpp-httplib-dev
)
# Reference writers the format tests compare against (torch.save, onnx.save, numpy.save, h5py
# for Keras .h5 files), and the browser the HTML report is rendered in
# (tests/cli/html_report_browser_test.sh).
if [ "${WEIGHTPRINT_TEST_DEPS:-0}" = 1 ]; then
  PACKAGES+=(python3-numpy python3-torch python3-onnx python3-h5py chromium)
  # The TLS tests make a CA and certificates with the openssl command; CI's fuzzing step
  # (tools/fuzz.sh) builds the libFuzzer targets with clang.
  PACKAGES+=(openssl clang libclang-rt-dev)
  # The Python client (client/python) and its test: gRPC and protobuf runtimes, and xxhash for
  # the bundle checksum. Its stubs are generated with protoc and grpc_python_plugin (above).
  PACKAGES+=(python3-grpcio python3-protobuf python3-xxhash)
  # The remote-query tests serve models over HTTP with Range support from lighttpd on loopback.
  PACKAGES+=(lighttpd)
  # The metrics test checks the /metrics page with Prometheus's own parser (promtool); the
  # deploy-files test reads deploy/compose.yaml with PyYAML.
  PACKAGES+=(prometheus python3-yaml)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
