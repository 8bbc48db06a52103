#include "registry/constant_codec.h"

#include <optional>
#include <string>

#include "registry/fingerprint_codec.h"

namespace weightprint::registry {
namespace {

indexer::Hash128 HashFromHex(const std::string& hex) {
  indexer::Hash128 h;
  if (hex.size() != 32) return h;
  for (int i = 0; i < 32; ++i) {
    const char c = hex[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return indexer::Hash128{};
    uint64_t& word = i < 16 ? h.high : h.low;
    word = (word << 4) | static_cast<uint64_t>(v);
  }
  return h;
}

}  // namespace

void ToProto(const KnownConstant& in, v1::KnownConstant* out) {
  out->set_exact_hash(in.exact_hash.ToHex());
  out->set_bf16_hash(in.bf16_hash.ToHex());
  out->set_f16_hash(in.f16_hash.ToHex());
  out->set_origin(in.origin);
  out->set_name(in.name);
  out->set_family(in.family);
  for (const std::string& m : in.models) out->add_models(m);
  out->set_added_unix(in.added_unix);
  out->set_parameters(in.parameters);
}

KnownConstant FromProto(const v1::KnownConstant& in) {
  KnownConstant out;
  out.exact_hash = HashFromHex(in.exact_hash());
  out.bf16_hash = HashFromHex(in.bf16_hash());
  out.f16_hash = HashFromHex(in.f16_hash());
  out.origin = in.origin();
  out.name = in.name();
  out.family = in.family();
  out.models.assign(in.models().begin(), in.models().end());
  out.added_unix = in.added_unix();
  out.parameters = in.parameters();
  return out;
}

void ToProto(const SharedConstant& in, v1::SharedConstant* out) {
  out->set_query_tensor(in.query_tensor);
  out->set_tensor(in.tensor);
  out->set_reason(in.reason);
  out->set_hash(in.hash);
}

SharedConstant FromProto(const v1::SharedConstant& in) {
  return {in.query_tensor(), in.tensor(), in.reason(), in.hash()};
}

void ToProto(const ConstantLink& in, v1::ConstantLink* out) {
  ToProto(in.model, out->mutable_model());
  for (const SharedConstant& s : in.shared) ToProto(s, out->add_shared());
}

ConstantLink FromProto(const v1::ConstantLink& in) {
  ConstantLink out;
  out.model = FromProto(in.model());
  for (const v1::SharedConstant& s : in.shared()) out.shared.push_back(FromProto(s));
  return out;
}

}  // namespace weightprint::registry
