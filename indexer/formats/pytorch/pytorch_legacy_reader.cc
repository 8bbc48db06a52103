// The PyTorch legacy path: the torch.save stream before PyTorch 1.6, pickles back to back. The
// magic number, the protocol version (1001) and the sys_info dict (byte order) come first, then
// the main pickle (the state dict, tensors over persistent-id storages), then the list of
// storage keys, then for each key in that order an 8-byte element count and the storage's bytes.
// Pickles go through the restricted unpickler; storages are read in place. docs/formats/PYTORCH.md
// lists the rules and errors.
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/format_error.h"
#include "indexer/formats/pytorch/internal/pickle_machine.h"
#include "indexer/formats/pytorch/internal/pytorch_model_reader.h"
#include "indexer/formats/pytorch/internal/tensor_collector.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {
namespace {

// The legacy format's first pickle: the magic number 0x1950a86a20f9469cfc6c, little-endian.
constexpr std::string_view kLegacyMagic = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
constexpr int64_t kLegacyProtocolVersion = 1001;

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorchLegacy(
    const std::string& path, std::unique_ptr<base::MappedFile> file) {
  auto reader = std::make_unique<PytorchReader>(path, std::move(file));
  const std::span<const std::byte> bytes = reader->bytes();
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  uint64_t pos = 0;
  auto next = [&]() -> absl::StatusOr<PickleGraph> {
    absl::StatusOr<PickleGraph> g = Unpickle(all.substr(pos), path, pos);
    if (g.ok()) pos = g->end_offset;
    return g;
  };
  absl::StatusOr<PickleGraph> magic = next();
  if (!magic.ok()) return magic.status();
  const PickleObject& m = magic->at(magic->root);
  if (m.kind != PickleKind::kBigInt || m.text != kLegacyMagic) {
    return FormatError(path, 0, "expected the legacy torch.save magic number first");
  }
  const uint64_t protocol_at = pos;
  absl::StatusOr<PickleGraph> protocol = next();
  if (!protocol.ok()) return protocol.status();
  const PickleObject& p = protocol->at(protocol->root);
  if (p.kind != PickleKind::kInt || p.integer != kLegacyProtocolVersion) {
    return FormatError(path, protocol_at,
                       absl::StrCat("expected legacy protocol version ", kLegacyProtocolVersion));
  }
  const uint64_t sys_info_at = pos;
  absl::StatusOr<PickleGraph> sys_info = next();
  if (!sys_info.ok()) return sys_info.status();
  bool big_endian = false;
  const PickleObject& info = sys_info->at(sys_info->root);
  if (info.kind != PickleKind::kDict) {
    return FormatError(path, sys_info_at, "expected the sys_info dict");
  }
  for (const auto& [key, value] : info.pairs) {
    const PickleObject& k = sys_info->at(key);
    const PickleObject& v = sys_info->at(value);
    if (k.kind == PickleKind::kString && k.text == "little_endian" && v.kind == PickleKind::kBool) {
      big_endian = !v.boolean;
    }
  }
  reader->set_swap_bytes(big_endian);

  absl::StatusOr<PickleGraph> main = next();
  if (!main.ok()) return main.status();
  absl::StatusOr<std::vector<PendingTensor>> found = CollectTensors(*main, path, "", "");
  if (!found.ok()) return found.status();

  const uint64_t keys_at = pos;
  absl::StatusOr<PickleGraph> keys = next();
  if (!keys.ok()) return keys.status();
  const PickleObject& key_list = keys->at(keys->root);
  if (key_list.kind != PickleKind::kList) {
    return FormatError(path, keys_at, "expected the list of storage keys");
  }
  // Element sizes come from the storage types the tensors name.
  std::map<std::string, uint64_t> element_size;
  for (const PendingTensor& t : *found) element_size.emplace(t.storage_key, DTypeSize(t.dtype));
  struct Range {
    uint64_t begin;
    uint64_t size;
  };
  std::map<std::string, Range> storages;
  for (PickleRef ref : key_list.items) {
    const PickleObject& k = keys->at(ref);
    if (k.kind != PickleKind::kString) {
      return FormatError(path, k.offset, "expected storage keys to be strings");
    }
    absl::StatusOr<std::span<const std::byte>> count_field =
        reader->Range(pos, 8, absl::StrCat("the 8-byte element count of storage ", k.text));
    if (!count_field.ok()) return count_field.status();
    uint64_t count = 0;
    for (int i = 0; i < 8; ++i) {
      const uint64_t byte = static_cast<uint8_t>((*count_field)[big_endian ? i : 7 - i]);
      count = (count << 8) | byte;
    }
    const auto es = element_size.find(k.text);
    if (es == element_size.end()) {
      return FormatError(path, pos,
                         absl::StrCat("storage ", k.text,
                                      " is not used by any tensor; expected its element type"));
    }
    uint64_t size;
    if (__builtin_mul_overflow(count, es->second, &size) || size > bytes.size() - pos - 8) {
      return FormatError(path, pos,
                         absl::StrCat("storage ", k.text, " declares ", count,
                                      " elements; expected them to fit in the ",
                                      bytes.size() - pos - 8, " bytes left (truncated)"));
    }
    if (!storages.emplace(k.text, Range{pos + 8, size}).second) {
      return FormatError(path, k.offset, absl::StrCat("storage key ", k.text, " repeats"));
    }
    pos += 8 + size;
  }
  if (pos != bytes.size()) {
    return FormatError(path, pos,
                       absl::StrCat("expected the file to end after the last storage; ",
                                    bytes.size() - pos, " trailing bytes"));
  }
  for (PendingTensor& t : *found) {
    if (t.name.empty()) t.name = PytorchFileStem(path);
    const auto it = storages.find(t.storage_key);
    if (it == storages.end()) {
      return FormatError(path, t.at,
                         absl::StrCat("tensor \"", t.name, "\": storage ", t.storage_key,
                                      " is missing from the storage key list"));
    }
    if (absl::Status s = reader->Add(std::move(t), it->second.begin, it->second.size); !s.ok()) {
      return s;
    }
  }
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace weightprint::indexer::internal
