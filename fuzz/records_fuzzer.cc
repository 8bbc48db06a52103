// libFuzzer target: every decoder of bytes read back from the store. The first input byte
// picks the decoder, the rest is the stored value (or key): model, tensor, vector, long-sketch
// and audit records, the meta integers and counts, the calibration (null model) record, a
// known-constant record's protobuf, a fingerprint protobuf through the codec's validation, and
// the key parsers with DescribeKey. A decoded value is re-encoded where an encoder exists, so a
// decoder that accepts what the encoder cannot write shows up too. Any error status is fine; a
// crash or sanitizer report is the bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "registry/constant_codec.h"
#include "registry/fingerprint_codec.h"
#include "registry/store/internal/key_schema.h"
#include "registry/store/internal/record_format.h"
#include "registry/provenance/null_model.h"
#include "weightprint/v1/fingerprint.pb.h"
#include "weightprint/v1/registry.pb.h"

namespace {

namespace reg = weightprint::registry;
namespace store = weightprint::registry::internal;

void DecodeValue(uint8_t which, std::string_view value) {
  const std::string_view key = "fuzz";
  switch (which % 14) {
    case 0:
      if (auto m = store::DecodeModelRecord(value, store::kModelsCf, key); m.ok()) {
        (void)store::EncodeModelRecord(*m);
      }
      break;
    case 1:
      if (auto t = store::DecodeTensorRecord(value, store::kTensorsCf, key); t.ok()) {
        (void)store::EncodeTensorRecord(t->vector_id, t->fingerprint);
      }
      break;
    case 2: {
      std::vector<float> sketch;
      if (auto v = store::DecodeVectorRecord(value, store::kVectorsCf, key, &sketch); v.ok()) {
        (void)store::EncodeVectorRecord(v->model_id, v->tensor, sketch);
      }
      break;
    }
    case 3:
      if (auto c = store::DecodeLongSketchRecord(value, store::kLongSketchesCf, key); c.ok()) {
        (void)store::EncodeLongSketchRecord(*c);
      }
      break;
    case 4:
      if (auto a = store::DecodeAuditRecord(value, store::kAuditCf, key); a.ok()) {
        (void)store::EncodeAuditRecord(*a);
      }
      break;
    case 5:
      (void)store::DecodeU64(value, store::kMetaCf, key);
      (void)store::DecodeU32(value, store::kMetaCf, key);
      break;
    case 6:
      if (auto c = store::DecodeCounts(value, store::kMetaCf, key); c.ok()) {
        (void)store::EncodeCounts(*c);
      }
      break;
    case 7:
      if (auto null = reg::NullModel::Parse(value); null.ok()) {
        (void)reg::NullModel::Parse(null->Serialize());
      }
      break;
    case 8: {
      // A constants record is a version byte and a v1.KnownConstant.
      weightprint::v1::KnownConstant proto;
      if (value.size() > 1 && proto.ParseFromArray(value.data() + 1, static_cast<int>(value.size() - 1))) {
        weightprint::v1::KnownConstant again;
        reg::ToProto(reg::FromProto(proto), &again);
      }
      break;
    }
    case 9:
    case 10: {
      weightprint::v1::TensorFingerprint proto;
      if (proto.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        if (auto fp = reg::FromProto(proto, /*require_sketch=*/which % 14 == 9); fp.ok()) {
          weightprint::v1::TensorFingerprint again;
          reg::ToProto(*fp, /*include_sketch=*/true, &again);
        }
      }
      break;
    }
    case 11: {
      weightprint::v1::ModelInfo proto;
      if (proto.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        weightprint::v1::ModelInfo again;
        reg::ToProto(reg::FromProto(proto), &again);
      }
      break;
    }
    case 12:
      (void)store::ParseModelKey(value);
      (void)store::ParseModelNameKey(value);
      (void)store::ParseTensorKey(value);
      (void)store::ParseHashKey(value);
      (void)store::ParseVectorKey(value);
      break;
    case 13:
      for (size_t cf = 0; cf < store::kNumColumnFamilies; ++cf) {
        (void)store::DescribeKey(static_cast<store::ColumnFamily>(cf), value);
      }
      (void)store::PrefixSuccessor(value);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  DecodeValue(data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
