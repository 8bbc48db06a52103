#include "registry/fingerprint_codec.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/registry/store_test_fingerprints.h"

namespace weightprint::registry {
namespace {

using store_test::ConstantFingerprint;
using store_test::RandomFingerprint;
using store_test::RandomLongSketch;

void ExpectSameFingerprint(const indexer::TensorFingerprint& a, const indexer::TensorFingerprint& b,
                           bool with_sketch) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.exact_hash, b.exact_hash);
  EXPECT_EQ(a.bf16_hash, b.bf16_hash);
  EXPECT_EQ(a.f16_hash, b.f16_hash);
  EXPECT_EQ(a.stats.count, b.stats.count);
  EXPECT_EQ(a.stats.mean, b.stats.mean);
  EXPECT_EQ(a.stats.std, b.stats.std);
  EXPECT_EQ(a.stats.min, b.stats.min);
  EXPECT_EQ(a.stats.max, b.stats.max);
  EXPECT_EQ(a.stats.excess_kurtosis, b.stats.excess_kurtosis);
  EXPECT_EQ(a.stats.zero_fraction, b.stats.zero_fraction);
  EXPECT_EQ(a.stats.non_finite_count, b.stats.non_finite_count);
  EXPECT_EQ(a.evidence, b.evidence);
  EXPECT_EQ(a.version, b.version);
  if (with_sketch) {
    EXPECT_EQ(a.sketch, b.sketch);
    EXPECT_EQ(a.long_sketch, b.long_sketch);
  }
}

class FingerprintCodecTest : public ::testing::Test {
 protected:
  // A valid informative message for `name`, with sketch.
  v1::TensorFingerprint ValidProto(const std::string& name = "model.layers.0.mlp.up_proj.weight") {
    v1::TensorFingerprint proto;
    ToProto(RandomFingerprint(rng_, name), /*include_sketch=*/true, &proto);
    return proto;
  }

  // Expects FromProto to fail with `code`, naming the tensor and `field` in the message.
  void ExpectError(const v1::TensorFingerprint& proto, absl::StatusCode code,
                   const std::string& field, bool require_sketch = true) {
    absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, require_sketch);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), code) << decoded.status();
    const std::string message(decoded.status().message());
    EXPECT_NE(message.find(proto.name()), std::string::npos) << message;
    EXPECT_NE(message.find(field), std::string::npos) << message;
  }

  std::mt19937_64 rng_{7};
};

TEST_F(FingerprintCodecTest, RoundTripWithSketch) {
  indexer::TensorFingerprint original = RandomFingerprint(rng_, "lm_head.weight", 8, 4);
  original.dtype = indexer::DType::kBF16;
  original.stats.zero_fraction = 0.25;
  original.stats.non_finite_count = 3;
  v1::TensorFingerprint proto;
  ToProto(original, /*include_sketch=*/true, &proto);
  EXPECT_EQ(proto.dtype(), v1::BF16);
  EXPECT_EQ(proto.evidence(), v1::INFORMATIVE);
  EXPECT_EQ(proto.sketch_size(), indexer::kSketchDim);

  absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, /*require_sketch=*/true);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameFingerprint(original, *decoded, /*with_sketch=*/true);
}

TEST_F(FingerprintCodecTest, RoundTripWithLongSketch) {
  indexer::TensorFingerprint original = RandomFingerprint(rng_, "model.layers.0.mlp.up_proj.weight",
                                                          128, 256);
  original.long_sketch = RandomLongSketch(rng_);
  original.long_sketch[5] = -127;
  v1::TensorFingerprint proto;
  ToProto(original, /*include_sketch=*/true, &proto);
  EXPECT_EQ(proto.long_sketch().size(), static_cast<size_t>(indexer::kLongSketchDim));
  absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, /*require_sketch=*/true);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameFingerprint(original, *decoded, /*with_sketch=*/true);

  // Stored records and listings leave both sketches out.
  ToProto(original, /*include_sketch=*/false, &proto);
  EXPECT_TRUE(proto.long_sketch().empty());
}

TEST_F(FingerprintCodecTest, RejectsMalformedLongSketch) {
  indexer::TensorFingerprint large = RandomFingerprint(rng_, "model.layers.0.mlp.up_proj.weight",
                                                       128, 256);
  large.long_sketch = RandomLongSketch(rng_);
  v1::TensorFingerprint proto;
  ToProto(large, true, &proto);

  v1::TensorFingerprint short_codes = proto;
  short_codes.mutable_long_sketch()->resize(indexer::kLongSketchDim - 1);
  ExpectError(short_codes, absl::StatusCode::kInvalidArgument, "long_sketch");

  v1::TensorFingerprint zeros = proto;
  zeros.set_long_sketch(std::string(indexer::kLongSketchDim, '\0'));
  ExpectError(zeros, absl::StatusCode::kInvalidArgument, "long_sketch");

  v1::TensorFingerprint out_of_range = proto;
  (*out_of_range.mutable_long_sketch())[9] = static_cast<char>(-128);
  ExpectError(out_of_range, absl::StatusCode::kInvalidArgument, "long_sketch");

  v1::TensorFingerprint small = proto;  // 16 x 32 elements: under kLongSketchMinElements
  small.set_shape(0, 16);
  small.set_shape(1, 32);
  ExpectError(small, absl::StatusCode::kInvalidArgument, "long_sketch");

  v1::TensorFingerprint no_sketch = proto;
  no_sketch.clear_sketch();
  ExpectError(no_sketch, absl::StatusCode::kInvalidArgument, "long_sketch",
              /*require_sketch=*/false);
}

TEST_F(FingerprintCodecTest, WithoutSketchDecodesOnlyWhenNotRequired) {
  const indexer::TensorFingerprint original = RandomFingerprint(rng_, "w");
  v1::TensorFingerprint proto;
  ToProto(original, /*include_sketch=*/false, &proto);
  EXPECT_EQ(proto.sketch_size(), 0);

  absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, /*require_sketch=*/false);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameFingerprint(original, *decoded, /*with_sketch=*/false);
  EXPECT_TRUE(decoded->sketch.empty());

  ExpectError(proto, absl::StatusCode::kInvalidArgument, "sketch", /*require_sketch=*/true);
}

TEST_F(FingerprintCodecTest, NonInformativeTensorNeedsNoSketch) {
  v1::TensorFingerprint proto;
  ToProto(ConstantFingerprint(rng_, "model.norm.weight"), /*include_sketch=*/false, &proto);
  absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, /*require_sketch=*/true);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->evidence, indexer::Evidence::kConstant);
}

TEST_F(FingerprintCodecTest, ScalarAndEmptyShapesAreValid) {
  v1::TensorFingerprint proto = ValidProto("scalar");
  proto.clear_shape();
  EXPECT_TRUE(FromProto(proto, true).ok());
  proto.add_shape(0);
  proto.add_shape(5);
  absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, true);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->num_elements(), 0u);
}

TEST_F(FingerprintCodecTest, RejectsEmptyName) {
  v1::TensorFingerprint proto = ValidProto();
  proto.clear_name();
  absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(proto, true);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(decoded.status().message()).find("name"), std::string::npos);
}

TEST_F(FingerprintCodecTest, RejectsUnknownDType) {
  v1::TensorFingerprint proto = ValidProto();
  proto.set_dtype(v1::DTYPE_UNSPECIFIED);
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "dtype");
  proto.set_dtype(static_cast<v1::DType>(99));
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "dtype");
}

TEST_F(FingerprintCodecTest, RejectsUnknownEvidence) {
  v1::TensorFingerprint proto = ValidProto();
  proto.set_evidence(v1::EVIDENCE_UNSPECIFIED);
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "evidence");
  proto.set_evidence(static_cast<v1::Evidence>(42));
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "evidence");
}

TEST_F(FingerprintCodecTest, RejectsNegativeDimension) {
  v1::TensorFingerprint proto = ValidProto();
  proto.set_shape(1, -3);
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "shape[1]");
}

TEST_F(FingerprintCodecTest, RejectsElementCountOverflow) {
  v1::TensorFingerprint proto = ValidProto();
  proto.clear_shape();
  proto.add_shape(int64_t{1} << 40);
  proto.add_shape(int64_t{1} << 30);
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "shape");
}

TEST_F(FingerprintCodecTest, RejectsOtherFingerprintVersion) {
  v1::TensorFingerprint proto = ValidProto();
  proto.set_fingerprint_version(indexer::kFingerprintVersion + 1);
  ExpectError(proto, absl::StatusCode::kFailedPrecondition, "fingerprint_version");
  proto.set_fingerprint_version(0);
  ExpectError(proto, absl::StatusCode::kFailedPrecondition, "fingerprint_version");
}

TEST_F(FingerprintCodecTest, RejectsSketchOfWrongLength) {
  v1::TensorFingerprint proto = ValidProto();
  proto.mutable_sketch()->RemoveLast();
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "sketch");
  // Wrong length is wrong even when no sketch is required.
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "sketch", /*require_sketch=*/false);
}

TEST_F(FingerprintCodecTest, RejectsNonFiniteSketch) {
  v1::TensorFingerprint proto = ValidProto();
  proto.set_sketch(17, std::numeric_limits<float>::quiet_NaN());
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "sketch[17]");
  proto.set_sketch(17, std::numeric_limits<float>::infinity());
  ExpectError(proto, absl::StatusCode::kInvalidArgument, "sketch[17]");
}

TEST(ModelInfoCodecTest, RoundTrip) {
  ModelInfo info;
  info.id = 42;
  info.name = "org/model";
  info.revision = "abc123";
  info.license = "apache-2.0";
  info.source = "https://example.org/org/model";
  info.base_model = "org/base";
  info.format = "safetensors";
  info.architecture = "LlamaForCausalLM";
  info.tensor_count = 291;
  info.parameter_count = 6'738'415'616;
  info.created_unix = 1'700'000'000;
  info.fingerprint_version = 1;
  v1::ModelInfo proto;
  ToProto(info, &proto);
  const ModelInfo back = FromProto(proto);
  EXPECT_EQ(back.id, info.id);
  EXPECT_EQ(back.name, info.name);
  EXPECT_EQ(back.revision, info.revision);
  EXPECT_EQ(back.license, info.license);
  EXPECT_EQ(back.source, info.source);
  EXPECT_EQ(back.base_model, info.base_model);
  EXPECT_EQ(back.format, info.format);
  EXPECT_EQ(back.architecture, info.architecture);
  EXPECT_EQ(back.tensor_count, info.tensor_count);
  EXPECT_EQ(back.parameter_count, info.parameter_count);
  EXPECT_EQ(back.created_unix, info.created_unix);
  EXPECT_EQ(back.fingerprint_version, info.fingerprint_version);
  EXPECT_EQ(back.DisplayName(), "org/model@abc123");
}

}  // namespace
}  // namespace weightprint::registry
