#include "registry/fingerprint_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <string>

#include "registry/internal/error_text.h"

namespace weightprint::registry {
namespace {

using internal::ErrorText;

// The C++ and proto enums share numeric values (see indexer/dtype.h and tensor_fingerprint.h),
// so the conversion is a cast once the value is known to be a real enumerator.
static_assert(static_cast<int>(indexer::DType::kF32) == v1::F32);
static_assert(static_cast<int>(indexer::DType::kF8E5M2) == v1::F8_E5M2);
static_assert(static_cast<int>(indexer::DType::kQ4_0) == v1::Q4_0);
static_assert(static_cast<int>(indexer::DType::kIQ4_XS) == v1::IQ4_XS);
static_assert(static_cast<int>(indexer::Evidence::kInformative) == v1::INFORMATIVE);
static_assert(static_cast<int>(indexer::Evidence::kFixedBuffer) == v1::FIXED_BUFFER);

void HashToProto(const indexer::Hash128& in, v1::Hash128* out) {
  out->set_high(in.high);
  out->set_low(in.low);
}

indexer::Hash128 HashFromProto(const v1::Hash128& in) { return {in.high(), in.low()}; }

absl::Status Invalid(const v1::TensorFingerprint& in, std::string_view field,
                     std::string_view problem) {
  return absl::InvalidArgumentError(
      ErrorText("tensor '", in.name(), "': field ", field, ": ", problem));
}

}  // namespace

void ToProto(const indexer::TensorFingerprint& in, bool include_sketch,
             v1::TensorFingerprint* out) {
  out->Clear();
  out->set_name(in.name);
  out->set_dtype(static_cast<v1::DType>(in.dtype));
  out->mutable_shape()->Reserve(static_cast<int>(in.shape.size()));
  for (int64_t dim : in.shape) out->add_shape(dim);
  HashToProto(in.exact_hash, out->mutable_exact_hash());
  HashToProto(in.bf16_hash, out->mutable_bf16_hash());
  HashToProto(in.f16_hash, out->mutable_f16_hash());
  v1::TensorStats* stats = out->mutable_stats();
  stats->set_count(in.stats.count);
  stats->set_mean(in.stats.mean);
  stats->set_std(in.stats.std);
  stats->set_min(in.stats.min);
  stats->set_max(in.stats.max);
  stats->set_excess_kurtosis(in.stats.excess_kurtosis);
  stats->set_zero_fraction(in.stats.zero_fraction);
  stats->set_non_finite_count(in.stats.non_finite_count);
  if (include_sketch) {
    out->mutable_sketch()->Add(in.sketch.begin(), in.sketch.end());
    if (!in.long_sketch.empty()) {
      out->set_long_sketch(reinterpret_cast<const char*>(in.long_sketch.data()),
                           in.long_sketch.size());
    }
  }
  out->set_evidence(static_cast<v1::Evidence>(in.evidence));
  out->set_fingerprint_version(in.version);
  out->set_fixed_family(in.fixed_family);
  out->set_evidence_rules(in.evidence_rules);
}

absl::StatusOr<indexer::TensorFingerprint> FromProto(const v1::TensorFingerprint& in,
                                                     bool require_sketch) {
  if (in.name().empty()) {
    return absl::InvalidArgumentError("tensor fingerprint: field name: must not be empty");
  }
  if (!indexer::IsSupportedFingerprintVersion(in.fingerprint_version())) {
    return absl::FailedPreconditionError(ErrorText(
        "tensor '", in.name(), "': field fingerprint_version: ", in.fingerprint_version(),
        " is not supported (this build reads versions ", indexer::kOldestFingerprintVersion,
        " to ", indexer::kFingerprintVersion, ")"));
  }
  if (in.dtype() == v1::DTYPE_UNSPECIFIED || !v1::DType_IsValid(in.dtype())) {
    return Invalid(in, "dtype", ErrorText("unknown value ", in.dtype()));
  }
  if (in.evidence() == v1::EVIDENCE_UNSPECIFIED || !v1::Evidence_IsValid(in.evidence())) {
    return Invalid(in, "evidence", ErrorText("unknown value ", in.evidence()));
  }

  indexer::TensorFingerprint out;
  out.name = in.name();
  out.dtype = static_cast<indexer::DType>(in.dtype());
  out.evidence = static_cast<indexer::Evidence>(in.evidence());
  out.version = in.fingerprint_version();
  out.fixed_family = in.fixed_family();
  out.evidence_rules = in.evidence_rules();

  out.shape.reserve(in.shape_size());
  uint64_t elements = 1;
  for (int i = 0; i < in.shape_size(); ++i) {
    const int64_t dim = in.shape(i);
    if (dim < 0) {
      return Invalid(in, ErrorText("shape[", i, "]"), ErrorText("negative dimension ", dim));
    }
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      return Invalid(in, "shape", "element count overflows 64 bits");
    }
    out.shape.push_back(dim);
  }

  out.exact_hash = HashFromProto(in.exact_hash());
  out.bf16_hash = HashFromProto(in.bf16_hash());
  out.f16_hash = HashFromProto(in.f16_hash());

  const v1::TensorStats& stats = in.stats();
  out.stats.count = stats.count();
  out.stats.mean = stats.mean();
  out.stats.std = stats.std();
  out.stats.min = stats.min();
  out.stats.max = stats.max();
  out.stats.excess_kurtosis = stats.excess_kurtosis();
  out.stats.zero_fraction = stats.zero_fraction();
  out.stats.non_finite_count = stats.non_finite_count();

  if (in.sketch_size() == 0) {
    if (require_sketch && out.informative()) {
      return Invalid(
          in, "sketch",
          ErrorText("missing; an informative tensor needs ", indexer::kSketchDim, " values"));
    }
  } else {
    if (in.sketch_size() != indexer::kSketchDim) {
      return Invalid(
          in, "sketch",
          ErrorText("has ", in.sketch_size(), " values, expected ", indexer::kSketchDim));
    }
    for (int i = 0; i < in.sketch_size(); ++i) {
      if (!std::isfinite(in.sketch(i))) {
        return Invalid(in, ErrorText("sketch[", i, "]"), "not a finite number");
      }
    }
    out.sketch.assign(in.sketch().begin(), in.sketch().end());
  }
  if (!in.long_sketch().empty()) {
    const std::string& codes = in.long_sketch();
    if (codes.size() != static_cast<size_t>(indexer::kLongSketchDim)) {
      return Invalid(in, "long_sketch",
                     ErrorText("has ", codes.size(), " bytes, expected ", indexer::kLongSketchDim));
    }
    if (elements < indexer::kLongSketchMinElements) {
      return Invalid(in, "long_sketch",
                     ErrorText("given for a tensor of ", elements, " elements; only tensors of ",
                               indexer::kLongSketchMinElements, " or more carry one"));
    }
    if (out.sketch.empty()) return Invalid(in, "long_sketch", "given without a sketch");
    if (std::all_of(codes.begin(), codes.end(), [](char c) { return c == 0; })) {
      return Invalid(in, "long_sketch", "all codes are zero");
    }
    if (std::find(codes.begin(), codes.end(), static_cast<char>(-128)) != codes.end()) {
      return Invalid(in, "long_sketch", "code -128 is outside the range -127..127");
    }
    out.long_sketch.resize(codes.size());
    std::memcpy(out.long_sketch.data(), codes.data(), codes.size());
  }
  return out;
}

void ToProto(const ModelInfo& in, v1::ModelInfo* out) {
  out->Clear();
  out->set_id(in.id);
  out->set_name(in.name);
  out->set_revision(in.revision);
  out->set_license(in.license);
  out->set_source(in.source);
  out->set_base_model(in.base_model);
  out->set_format(in.format);
  out->set_architecture(in.architecture);
  out->set_tensor_count(in.tensor_count);
  out->set_parameter_count(in.parameter_count);
  out->set_created_unix(in.created_unix);
  out->set_fingerprint_version(in.fingerprint_version);
  for (const std::string& base : in.base_models) out->add_base_models(base);
  out->set_base_model_relation(in.base_model_relation);
  out->set_base_model_declared_in(in.base_model_declared_in);
  out->set_trusted(in.trusted);
}

ModelInfo FromProto(const v1::ModelInfo& in) {
  ModelInfo out;
  out.id = in.id();
  out.name = in.name();
  out.revision = in.revision();
  out.license = in.license();
  out.source = in.source();
  out.base_model = in.base_model();
  out.format = in.format();
  out.architecture = in.architecture();
  out.tensor_count = in.tensor_count();
  out.parameter_count = in.parameter_count();
  out.created_unix = in.created_unix();
  out.fingerprint_version = in.fingerprint_version();
  out.base_models.assign(in.base_models().begin(), in.base_models().end());
  out.base_model_relation = in.base_model_relation();
  out.base_model_declared_in = in.base_model_declared_in();
  out.trusted = in.trusted();
  return out;
}

void ToProto(const AuditEntry& in, v1::AuditEntry* out) {
  out->set_seq(in.seq);
  out->set_time_unix_micros(in.time_unix_micros);
  out->set_actor(in.actor);
  out->set_role(in.role);
  out->set_peer(in.peer);
  out->set_action(in.action);
  out->set_model(in.model);
  out->set_model_id(in.model_id);
  out->set_detail(in.detail);
}

AuditEntry FromProto(const v1::AuditEntry& in) {
  AuditEntry out;
  out.seq = in.seq();
  out.time_unix_micros = in.time_unix_micros();
  out.actor = in.actor();
  out.role = in.role();
  out.peer = in.peer();
  out.action = in.action();
  out.model = in.model();
  out.model_id = in.model_id();
  out.detail = in.detail();
  return out;
}

}  // namespace weightprint::registry
