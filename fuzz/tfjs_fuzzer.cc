// libFuzzer target: the TF.js reader (model.json parsing, layout rules from the topology, shard
// addressing, dequantization) and the fingerprint over whatever it accepts. An input is a
// model.json and one shard: the first two bytes (little-endian) give the length of the JSON
// text that follows; the rest is written as group1-shard1of1.bin next to it. Seed it with
// small models whose manifest names that shard (fuzz/README.md shows one).
#include <cstring>
#include <string>

#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t json_size = static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8);
  if (json_size > size - 2) json_size = size - 2;
  weightprint::fuzz::WriteInput(data + 2 + json_size, size - 2 - json_size, "group1-shard1of1.bin");
  weightprint::fuzz::OpenAndFingerprint(
      weightprint::fuzz::WriteInput(data + 2, json_size, "model.json"));
  return 0;
}
