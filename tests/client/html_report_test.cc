// The HTML report as a document: self-contained (nothing fetched), every untrusted text
// escaped, one heatmap per stack pair with one cell per layer pair, null cells drawn neutral.
// The browser test (tests/cli/html_report_browser_test.sh) renders it in Chromium.
#include "client/html_report.h"

#include <regex>

#include "gtest/gtest.h"
#include "registry/provenance/layer_similarity.h"

namespace weightprint::client {
namespace {

using registry::CandidateReport;
using registry::LayerSimilarity;
using registry::ProvenanceReport;
using registry::Relation;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

ProvenanceReport HostileReport() {
  ProvenanceReport report;
  report.query_tensors = report.informative_tensors = 10;
  CandidateReport c;
  c.model.name = "evil/<img src=x onerror=alert(2)>";
  c.model.license = "\"quoted\" & 'single'";
  c.relation = Relation::kDerived;
  c.share_explained = 0.5;
  c.z = 12;
  c.p_value = 1e-30;
  c.components.push_back({"vision_tower<b>", 100, 1.0, 4, 4, Relation::kDerived});
  for (int q = 0; q < 6; ++q) {
    for (int s = 0; s < 4; ++s) {
      LayerSimilarity cell;
      cell.query_stack = "model.layers";
      cell.source_stack = "model.layers";
      cell.query_layer = q;
      cell.source_layer = s;
      cell.tensors = 9;
      const bool lit = (q < 3 ? q : q - 2) == s;
      cell.pearson_estimate = lit ? 0.98 : 0.01;
      cell.z = lit ? 40 : 0.2;
      c.layer_similarity.push_back(cell);
    }
  }
  LayerSimilarity cross;  // a second stack pair: a second heatmap
  cross.query_stack = "vision_tower.layers";
  cross.source_stack = "model.layers";
  cross.pearson_estimate = -0.9;
  cross.z = 30;
  cross.tensors = 2;
  c.layer_similarity.push_back(cross);
  report.candidates.push_back(c);
  CandidateReport unrelated;
  unrelated.model.name = "org/unrelated";
  unrelated.z = -8;
  unrelated.p_value = 1;
  report.candidates.push_back(unrelated);
  report.lineage.flags.push_back({registry::LineageFlag::Kind::kUndeclaredReuse,
                                  "evil/<x>", Relation::kDerived, 0.5, "undeclared <reuse>"});
  report.origin_audit.statement = "absence <of> evidence";
  report.origin_audit.components.push_back({"comp<&>", 10, 5, 0.5, 0.5, {}});
  // The verdict sentence is composed from the fields, so hostile names reach it through them:
  // the derived candidate's above, and this model that shares only a constant with the query.
  registry::ConstantLink link;
  link.model.name = "<script>alert(1)</script>";
  link.shared.push_back({"norm.weight", "norm.weight", "common", std::string(32, '0')});
  report.constant_links.push_back(link);
  return report;
}

TEST(HtmlReportTest, EscapesEveryUntrustedText) {
  HtmlReportContext context;
  context.query_path = "/models/<svg onload=alert(3)>";
  const std::string html = RenderHtmlReport(HostileReport(), context);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<svg onload"), std::string::npos);
  EXPECT_EQ(html.find("vision_tower<b>"), std::string::npos);
  EXPECT_EQ(html.find("<reuse>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  // The verdict paragraph holds the sentence composed from those fields, escaped.
  EXPECT_NE(html.find("<p class=\"verdict\">derived from evil/&lt;img src=x onerror=alert(2)&gt; "
                      "(50.0% of informative parameters explained"),
            std::string::npos);
  EXPECT_NE(html.find("shares only common constants with &lt;script&gt;alert(1)&lt;/script&gt; "
                      "(1 tensor)</p>"),
            std::string::npos);
  EXPECT_NE(html.find("&quot;quoted&quot; &amp; &#39;single&#39;"), std::string::npos);
  // The page's own script is the only one.
  EXPECT_EQ(Count(html, "<script"), 1u);
}

TEST(HtmlReportTest, IsSelfContained) {
  const std::string html = RenderHtmlReport(HostileReport(), {});
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  for (const char* external : {"http://", "https://", "<link", "@import", "url(", " src=\"", "href="}) {
    // The SVG namespace URI is an identifier, not a fetch.
    std::string stripped = std::regex_replace(html, std::regex("xmlns=\"http://www.w3.org/2000/svg\""), "");
    const size_t at = stripped.find(external);
    EXPECT_EQ(at, std::string::npos)
        << external << " at: " << stripped.substr(at == std::string::npos ? 0 : at, 80);
  }
}

TEST(HtmlReportTest, DrawsOneCellPerLayerPairAndTheNullBand) {
  const std::string html = RenderHtmlReport(HostileReport(), {});
  EXPECT_EQ(Count(html, "<svg class=\"heatmap\""), 2u);
  EXPECT_NE(html.find("data-heatmaps=\"2\""), std::string::npos);
  EXPECT_NE(html.find("data-cells=\"24\""), std::string::npos);
  EXPECT_NE(html.find("data-cells=\"1\""), std::string::npos);
  EXPECT_EQ(Count(html, "class=\"cell signal\""), 7u);  // 6 diagonal-ish + the cross cell
  EXPECT_EQ(Count(html, "class=\"cell null\""), 18u);
  EXPECT_NE(html.find("within the null"), std::string::npos);
  // The unrelated candidate's z reads as a bound, not -inf.
  EXPECT_NE(html.find("&lt; &#8722;8"), std::string::npos);
  EXPECT_EQ(html.find("-inf"), std::string::npos);
  // Components and audit tables are there.
  EXPECT_NE(html.find("class=\"components\""), std::string::npos);
  EXPECT_NE(html.find("class=\"audit\""), std::string::npos);
  EXPECT_NE(html.find("id=\"selfcheck\""), std::string::npos);
}

TEST(HtmlReportTest, EscapeDropsControlCharacters) {
  EXPECT_EQ(HtmlEscape("a\x01" "b\tc\n<"), "ab\tc\n&lt;");
}

}  // namespace
}  // namespace weightprint::client
