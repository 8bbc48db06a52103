#include "registry/store/internal/index_log_record.h"

#include "registry/internal/error_text.h"
#include "registry/store/internal/key_schema.h"

namespace weightprint::registry::internal {

std::string EncodeIndexChange(const IndexChange& change) {
  std::string out;
  out.reserve(1 + 8 + 8 + 4 + 8 * change.removed.size());
  out.push_back(static_cast<char>(kIndexChangeRecordVersion));
  AppendBigEndian64(&out, change.first_added);
  AppendBigEndian64(&out, change.added_count);
  AppendBigEndian32(&out, static_cast<uint32_t>(change.removed.size()));
  for (uint64_t id : change.removed) AppendBigEndian64(&out, id);
  return out;
}

absl::StatusOr<IndexChange> DecodeIndexChange(std::string_view value, std::string_view key) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(
        ErrorText("corrupt record ", DescribeKey(kIndexLogCf, key), ": ", why));
  };
  constexpr size_t kFixed = 1 + 8 + 8 + 4;
  if (value.size() < kFixed) return corrupt(ErrorText(value.size(), " bytes, expected at least 21"));
  if (static_cast<uint8_t>(value[0]) != kIndexChangeRecordVersion) {
    return corrupt(ErrorText("record version ", static_cast<int>(static_cast<uint8_t>(value[0])),
                             ", expected 1"));
  }
  IndexChange change;
  change.first_added = ReadBigEndian64(value.substr(1));
  change.added_count = ReadBigEndian64(value.substr(9));
  const uint64_t removed = ReadBigEndian32(value.substr(17));
  if (value.size() != kFixed + 8 * removed) {
    return corrupt(ErrorText(value.size(), " bytes for ", removed, " removed ids"));
  }
  change.removed.reserve(removed);
  for (uint64_t i = 0; i < removed; ++i) {
    change.removed.push_back(ReadBigEndian64(value.substr(kFixed + 8 * i)));
  }
  return change;
}

}  // namespace weightprint::registry::internal
