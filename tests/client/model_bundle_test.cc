// The `.wpb` bundle container (bundle/bundle_codec.h) byte by byte against docs/BUNDLES.md, its
// refusal of every malformed frame with file and offset, and `weightprint fingerprint` end to
// end: a real safetensors file -> bundle file -> decoded fingerprints equal to what a
// registration of the same file computes and stores.
#include <cstring>
#include <string>
#include <vector>

#include "bundle/bundle_codec.h"
#include "client/fingerprint_command.h"
#include "client/model_bundle.h"
#include "client/synthetic_model.h"
#include "google/protobuf/util/message_differencer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "registry/fingerprint_codec.h"
#include "registry/registry.h"
#include "tests/testing/temp_dir.h"
#include "xxhash.h"

namespace weightprint::client {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

weightprint::v1::ModelBundle SmallBundle() {
  weightprint::v1::ModelBundle bundle;
  bundle.mutable_info()->set_name("org/small");
  bundle.mutable_info()->set_revision("r1");
  weightprint::v1::TensorFingerprint* t = bundle.add_tensors();
  t->set_name("w");
  t->add_shape(4);
  bundle.set_source("small.safetensors");
  bundle.set_created_unix(1700000000);
  return bundle;
}

uint64_t Le64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

TEST(BundleCodecTest, HeaderBodyAndChecksumAreLaidOutAsSpecified) {
  const weightprint::v1::ModelBundle bundle = SmallBundle();
  absl::StatusOr<std::string> file = bundle::EncodeBundle(bundle);
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string body = bundle.SerializeAsString();
  ASSERT_EQ(file->size(), 24 + body.size() + 16);
  EXPECT_EQ(file->substr(0, 8), "WPBUNDLE");
  EXPECT_EQ(file->substr(8, 4), std::string("\x01\x00\x00\x00", 4));   // version 1, LE
  EXPECT_EQ(file->substr(12, 4), std::string("\x00\x00\x00\x00", 4));  // flags 0
  EXPECT_EQ(Le64(*file, 16), body.size());
  EXPECT_EQ(file->substr(24, body.size()), body);
  // Checksum: XXH3-128 of the body, high 64 bits first, each half big-endian.
  const XXH128_hash_t hash = XXH3_128bits(body.data(), body.size());
  std::string expected;
  for (int i = 7; i >= 0; --i) expected.push_back(static_cast<char>(hash.high64 >> (8 * i)));
  for (int i = 7; i >= 0; --i) expected.push_back(static_cast<char>(hash.low64 >> (8 * i)));
  EXPECT_EQ(file->substr(24 + body.size()), expected);

  absl::StatusOr<weightprint::v1::ModelBundle> back = bundle::DecodeBundle(*file, "x.wpb");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*back, bundle));
}

// Expects `file` to be refused with the origin, the byte offset and `what` in the message.
void ExpectRefused(const std::string& file, uint64_t offset, const std::string& what) {
  absl::StatusOr<weightprint::v1::ModelBundle> r = bundle::DecodeBundle(file, "bad.wpb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("bad.wpb: byte " + std::to_string(offset) + ":"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(what));
}

TEST(BundleCodecTest, RefusesEveryMalformedFrameWithFileAndOffset) {
  const std::string good = *bundle::EncodeBundle(SmallBundle());
  const size_t body_size = good.size() - 40;

  ExpectRefused("", 0, "magic");
  ExpectRefused("WPBUNDLX" + good.substr(8), 0, "magic");
  ExpectRefused(good.substr(0, 20), 20, "header");
  std::string version = good;
  version[8] = 2;
  ExpectRefused(version, 8, "unknown format version 2");
  std::string flags = good;
  flags[13] = 1;
  ExpectRefused(flags, 12, "unknown flags 0x00000100");
  std::string huge = good;
  huge[23] = 0x7f;
  ExpectRefused(huge, 16, "exceeds the limit");
  ExpectRefused(good.substr(0, 24 + body_size / 2), 24 + body_size / 2, "truncated body");
  ExpectRefused(good.substr(0, good.size() - 3), good.size() - 3, "truncated checksum");
  ExpectRefused(good + "xy", good.size(), "2 trailing bytes");
  std::string flipped = good;
  flipped[24] ^= 0x40;
  ExpectRefused(flipped, 24 + body_size, "checksum mismatch");

  // A body that is not a ModelBundle, under a correct checksum.
  const std::string garbage = "\xff\xff\xff\xff\xff\xff";
  std::string framed = good.substr(0, 16);
  for (int i = 0; i < 8; ++i) framed.push_back(static_cast<char>(i == 0 ? garbage.size() : 0));
  framed += garbage;
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(garbage.data(), garbage.size()));
  framed.append(reinterpret_cast<const char*>(canonical.digest), 16);
  ExpectRefused(framed, 24, "does not parse");
}

TEST(BundleCodecTest, EveryPrefixOfAGoodFileIsRefusedCleanly) {
  const std::string good = *bundle::EncodeBundle(SmallBundle());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(bundle::DecodeBundle(good.substr(0, n), "prefix.wpb").ok()) << n;
  }
}

TEST(BundleCodecTest, UnpackRefusesANamelessBundleAndABadTensor) {
  weightprint::v1::ModelBundle nameless = SmallBundle();
  nameless.mutable_info()->clear_name();
  absl::StatusOr<BundledModel> r = UnpackModelBundle(nameless, "n.wpb");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("n.wpb: the bundle names no model"));
  // SmallBundle's tensor has no dtype, hashes or sketch: a registration refuses it.
  r = UnpackModelBundle(SmallBundle(), "t.wpb");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("t.wpb: tensor 0"));
}

TEST(FingerprintCommandTest, BundleCarriesExactlyWhatARegistrationStores) {
  testing::TempDir dir;
  SyntheticModelSpec spec;
  spec.layers = 2;
  const std::string model = dir.Join("model.safetensors");
  ASSERT_TRUE(WriteSyntheticModel(model, MakeSyntheticModel(spec), indexer::DType::kBF16).ok());

  FingerprintCommandArgs args;
  args.path = model;
  args.output = dir.Join("model.wpb");
  args.info.name = "org/model";
  args.info.revision = "main";
  args.info.license = "mit";
  ASSERT_TRUE(RunFingerprintCommand(args, /*threads=*/2).ok());

  absl::StatusOr<weightprint::v1::ModelBundle> bundle = bundle::ReadBundleFile(args.output);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->info().name(), "org/model");
  EXPECT_EQ(bundle->info().revision(), "main");
  EXPECT_EQ(bundle->info().license(), "mit");
  EXPECT_EQ(bundle->info().format(), "safetensors");
  EXPECT_EQ(bundle->source(), model);
  EXPECT_GT(bundle->created_unix(), 0);

  // What `register` computes from the same file, tensor by tensor, sketches included.
  indexer::FingerprintOptions options;
  options.invariants = true;
  absl::StatusOr<indexer::ModelFingerprint> direct = indexer::FingerprintModel(model, options);
  ASSERT_TRUE(direct.ok()) << direct.status();
  ASSERT_EQ(bundle->tensors_size(), static_cast<int>(direct->tensors.size()));
  for (size_t i = 0; i < direct->tensors.size(); ++i) {
    weightprint::v1::TensorFingerprint expected;
    registry::ToProto(direct->tensors[i], /*include_sketch=*/true, &expected);
    EXPECT_TRUE(MessageDifferencer::Equals(bundle->tensors(static_cast<int>(i)), expected))
        << direct->tensors[i].name;
  }

  // Registered from the bundle and registered directly, the stored records agree.
  absl::StatusOr<BundledModel> unpacked = UnpackModelBundle(*bundle, args.output);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  auto from_bundle = registry::Registry::Open(dir.Join("db-bundle"));
  auto from_file = registry::Registry::Open(dir.Join("db-file"));
  ASSERT_TRUE(from_bundle.ok() && from_file.ok());
  absl::StatusOr<registry::ModelInfo> a = (*from_bundle)->Register(unpacked->info,
                                                                   unpacked->tensors);
  registry::ModelInfo info = args.info;
  info.format = direct->format;
  info.architecture = direct->architecture;
  absl::StatusOr<registry::ModelInfo> b = (*from_file)->Register(info, direct->tensors);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tensor_count, b->tensor_count);
  EXPECT_EQ(a->parameter_count, b->parameter_count);
  EXPECT_EQ(a->format, b->format);
  auto ta = (*from_bundle)->GetModelTensors(a->id);
  auto tb = (*from_file)->GetModelTensors(b->id);
  ASSERT_TRUE(ta.ok() && tb.ok());
  ASSERT_EQ(ta->size(), tb->size());
  for (size_t i = 0; i < ta->size(); ++i) {
    weightprint::v1::TensorFingerprint pa, pb;
    registry::ToProto((*ta)[i], /*include_sketch=*/true, &pa);
    registry::ToProto((*tb)[i], /*include_sketch=*/true, &pb);
    EXPECT_TRUE(MessageDifferencer::Equals(pa, pb)) << pa.name();
  }
}

TEST(FingerprintCommandTest, MissingModelIsAnErrorAndWritesNothing) {
  testing::TempDir dir;
  FingerprintCommandArgs args;
  args.path = dir.Join("absent.safetensors");
  args.output = dir.Join("out.wpb");
  EXPECT_FALSE(RunFingerprintCommand(args, 1).ok());
  EXPECT_FALSE(bundle::ReadBundleFile(args.output).ok());
}

}  // namespace
}  // namespace weightprint::client
