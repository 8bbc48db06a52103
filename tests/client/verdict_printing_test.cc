// The verdict sentence has one home, registry/provenance/verdict_text.h: a report decoded from
// the wire is printed (text, JSON, HTML) with the sentence composed from its fields, whatever
// string the peer shipped beside them, and the string the server ships for clients without the
// library is the same function's rendering of the same fields.
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "client/html_report.h"
#include "client/report_printer.h"
#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "indexer/tensor_info.h"
#include "registry/fingerprint_codec.h"
#include "registry/provenance/report_codec.h"
#include "registry/provenance/verdict_text.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::client {
namespace {

// The first line of a text report.
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// A ProvenanceReport as a peer sends it: one derived candidate and one model that shares only a
// constant with the query, with `shipped` as its verdict string.
v1::ProvenanceReport ModelReportOnTheWire(const std::string& shipped) {
  v1::ProvenanceReport wire;
  wire.set_query_tensors(12);
  wire.set_informative_tensors(10);
  wire.set_registry_tensors(480);
  v1::CandidateReport* c = wire.add_candidates();
  c->mutable_model()->set_id(7);
  c->mutable_model()->set_name("org/base");
  c->set_relation(v1::DERIVED);
  c->set_share_explained(0.625);
  c->set_tensors_matched(8);
  c->set_tensors_compared(10);
  c->set_z(14.5);
  c->set_p_value(3.2e-12);
  c->set_link("derived");
  v1::ConstantLink* link = wire.add_constant_links();
  link->mutable_model()->set_id(9);
  link->mutable_model()->set_name("org/neighbour");
  v1::SharedConstant* shared = link->add_shared();
  shared->set_query_tensor("norm.weight");
  shared->set_tensor("norm.weight");
  shared->set_reason("common");
  shared->set_hash(std::string(32, 'a'));
  wire.set_verdict(shipped);
  return wire;
}

constexpr char kModelSentence[] =
    "derived from org/base (62.5% of informative parameters explained, p = 3.2e-12); shares "
    "only common constants with org/neighbour (1 tensor)";

TEST(VerdictPrintingTest, ModelReportFromTheWireIsPrintedFromItsFields) {
  for (const std::string shipped : {"identical to org/impostor", ""}) {
    SCOPED_TRACE("shipped verdict: \"" + shipped + "\"");
    const registry::ProvenanceReport report = registry::FromProto(ModelReportOnTheWire(shipped));
    EXPECT_EQ(registry::ModelVerdict(report), kModelSentence);

    const std::string text = FormatReport(report, /*verbose=*/false);
    EXPECT_EQ(FirstLine(text), std::string("verdict: ") + kModelSentence);
    EXPECT_EQ(ReportToJson(report)["verdict"].get<std::string>(), kModelSentence);
    const std::string html = RenderHtmlReport(report, {});
    EXPECT_NE(html.find(std::string("<p class=\"verdict\">") + kModelSentence + "</p>"),
              std::string::npos);
    if (!shipped.empty()) {
      EXPECT_EQ(text.find(shipped), std::string::npos);
      EXPECT_EQ(ReportToJson(report).dump().find(shipped), std::string::npos);
      EXPECT_EQ(html.find(shipped), std::string::npos);
    }
  }
}

TEST(VerdictPrintingTest, ModelSentenceFollowsTheFieldsNotTheString) {
  // Change a field the sentence rests on, keep the shipped string: the printed sentence moves.
  v1::ProvenanceReport wire = ModelReportOnTheWire(kModelSentence);
  wire.mutable_candidates(0)->set_relation(v1::IDENTICAL);
  const registry::ProvenanceReport report = registry::FromProto(wire);
  EXPECT_EQ(FirstLine(FormatReport(report, false)),
            "verdict: identical to org/base (8/10 informative tensors equal by value); shares "
            "only common constants with org/neighbour (1 tensor)");
}

TEST(VerdictPrintingTest, ServerRendersTheShippedStringWithTheSameFunction) {
  const registry::ProvenanceReport report = registry::FromProto(ModelReportOnTheWire(""));
  v1::ProvenanceReport encoded;
  registry::ToProto(report, &encoded);
  EXPECT_EQ(encoded.verdict(), kModelSentence);
}

// A tensor of N(0, 0.02)-like values: informative, with a usable sketch.
indexer::TensorFingerprint InformativeTensor(const std::string& name) {
  std::vector<float> values(64 * 64);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = 0.02f * static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 1.1) +
                                           std::cos(0.011 * static_cast<double>(i * i)));
  }
  indexer::TensorInfo info;
  info.name = name;
  info.dtype = indexer::DType::kF32;
  info.shape = {64, 64};
  info.size_bytes = values.size() * sizeof(float);
  absl::StatusOr<indexer::TensorFingerprint> fp =
      indexer::FingerprintTensor(info, std::as_bytes(std::span(values)));
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *fp : indexer::TensorFingerprint{};
}

// The tensor query as the server sends it, with `shipped` as its verdict string.
v1::TensorQueryResponse TensorAnswerOnTheWire(const registry::TensorQueryResult& result,
                                             const std::string& shipped) {
  v1::TensorQueryResponse wire;
  registry::ToProto(result, &wire);
  wire.set_verdict(shipped);
  return wire;
}

TEST(VerdictPrintingTest, TensorAnswersFromTheWireArePrintedFromTheirFields) {
  registry::TensorQueryResult common;
  common.query = InformativeTensor("proj.weight");
  ASSERT_TRUE(indexer::HasUsableSketch(common.query));
  common.registry_tensors = 300;
  common.constant_reason = "common";
  common.constant_models = {"org/x", "org/y"};

  registry::TensorQueryResult matched;
  matched.query = InformativeTensor("proj.weight");
  matched.registry_tensors = 300;
  registry::TensorMatch m;
  m.query_tensor = "proj.weight";
  m.model_id = 3;
  m.model_name = "org/base";
  m.tensor = "layers.0.proj.weight";
  m.relation = registry::Relation::kDerived;
  m.pearson_estimate = 0.9375;
  m.z = 31.3;
  m.p_value = 1.5e-20;
  matched.matches.push_back(m);

  registry::TensorQueryResult nothing = matched;
  nothing.matches.clear();

  const std::vector<std::pair<registry::TensorQueryResult, std::string>> cases = {
      {common,
       "no verdict: tensor proj.weight is a known constant (common: identical in unrelated "
       "models org/x, org/y)"},
      {matched,
       "derived from org/base tensor layers.0.proj.weight (Pearson estimate 0.9375, z = 31.3, "
       "p = 1.5e-20)"},
      {nothing,
       "no registered source: nothing beyond the null of unrelated tensors (300 registered "
       "tensors searched)"},
  };
  for (const auto& [result, sentence] : cases) {
    SCOPED_TRACE(sentence);
    // What the server ships for clients without the library.
    v1::TensorQueryResponse encoded;
    registry::ToProto(result, &encoded);
    EXPECT_EQ(encoded.verdict(), sentence);
    for (const std::string shipped : {"identical to org/impostor tensor x", ""}) {
      absl::StatusOr<registry::TensorQueryResult> decoded =
          registry::FromProto(TensorAnswerOnTheWire(result, shipped));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(decoded->constant_models, result.constant_models);
      EXPECT_EQ(FirstLine(FormatTensorResult(*decoded)), "verdict: " + sentence);
      EXPECT_EQ(TensorResultToJson(*decoded)["verdict"].get<std::string>(), sentence);
    }
  }
}

TEST(VerdictPrintingTest, TensorWithoutEvidenceSaysSoOverTheWire) {
  std::vector<float> ones(256, 1.0f);
  indexer::TensorInfo info;
  info.name = "norm.weight";
  info.dtype = indexer::DType::kF32;
  info.shape = {256};
  info.size_bytes = ones.size() * sizeof(float);
  absl::StatusOr<indexer::TensorFingerprint> fp =
      indexer::FingerprintTensor(info, std::as_bytes(std::span(ones)));
  ASSERT_TRUE(fp.ok()) << fp.status();
  registry::TensorQueryResult result;
  result.query = *fp;
  ASSERT_FALSE(indexer::HasUsableSketch(result.query));
  const std::string sentence = registry::TensorVerdict(result);
  EXPECT_EQ(sentence.rfind("no verdict: tensor norm.weight carries no evidence (", 0), 0u)
      << sentence;
  absl::StatusOr<registry::TensorQueryResult> decoded =
      registry::FromProto(TensorAnswerOnTheWire(result, "derived from org/impostor"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(FirstLine(FormatTensorResult(*decoded)), "verdict: " + sentence);
}

}  // namespace
}  // namespace weightprint::client
