#include "client/html_report.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/normal_tail.h"
#include "base/p_value_text.h"
#include "base/share_text.h"
#include "client/report_printer.h"
#include "client/report_sections.h"
#include "registry/provenance/provenance_report.h"
#include "registry/provenance/verdict_text.h"

namespace weightprint::client {
namespace {

using registry::CandidateReport;
using registry::LayerSimilarity;

constexpr int kMaxHeatmapsPerCandidate = 4;
constexpr double kHeatmapPixels = 560;  // the longer side of the cell grid

std::string Esc(std::string_view s) { return HtmlEscape(s); }
std::string Mix(double t, int r0, int g0, int b0, int r1, int g1, int b1) {
  t = std::clamp(t, 0.0, 1.0);
  auto lerp = [t](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
  return absl::StrFormat("#%02x%02x%02x", lerp(r0, r1), lerp(g0, g1), lerp(b0, b1));
}

constexpr char kNullColour[] = "#e9e9e4";
constexpr char kEmptyColour[] = "#ffffff";

// Beyond the null: warm for positive estimates, cool for negative, darker when stronger.
std::string CellColour(const LayerSimilarity& c) {
  if (registry::WithinNull(c)) return kNullColour;
  const double r = std::clamp(c.pearson_estimate, -1.0, 1.0);
  if (r >= 0) return Mix(r, 0xfd, 0xd8, 0xa8, 0x99, 0x10, 0x00);
  return Mix(-r, 0xc6, 0xdb, 0xef, 0x08, 0x45, 0x94);
}

struct Grid {
  std::string query_stack, source_stack;
  std::vector<const LayerSimilarity*> cells;
  double max_z = 0;
};

std::string Heatmap(const Grid& grid, int id) {
  std::set<int64_t> qs, ss;
  for (const LayerSimilarity* c : grid.cells) {
    qs.insert(c->query_layer);
    ss.insert(c->source_layer);
  }
  const int64_t q_lo = *qs.begin(), q_hi = *qs.rbegin();
  const int64_t s_lo = *ss.begin(), s_hi = *ss.rbegin();
  const int64_t rows = q_hi - q_lo + 1, cols = s_hi - s_lo + 1;
  const double cell = std::clamp(kHeatmapPixels / static_cast<double>(std::max(rows, cols)), 3.0, 28.0);
  const double left = 64, top = 40, legend_h = 64;
  const double width = std::max(left + cols * cell + 20, left + 560);
  const double height = top + rows * cell + legend_h + 36;
  const int64_t q_step = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(14.0 / cell)));
  const int64_t s_step = q_step;

  std::ostringstream svg;
  svg << absl::StrFormat(
      "<svg class=\"heatmap\" id=\"heatmap-%d\" xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
      "data-cells=\"%d\" aria-label=\"layer similarity: query %s against source %s\">",
      id, width, height, width, height, grid.cells.size(),
      Esc(grid.query_stack), Esc(grid.source_stack));
  // Axis titles.
  svg << absl::StrFormat(
      "<text x=\"%.1f\" y=\"14\" class=\"axis-title\">source layer (%s) &#8594;</text>", left,
      Esc(grid.source_stack));
  svg << absl::StrFormat(
      "<text transform=\"translate(14,%.1f) rotate(-90)\" class=\"axis-title\" "
      "text-anchor=\"end\">query layer (%s) &#8594;</text>",
      top, Esc(grid.query_stack));
  // Background: pairs without a shared slot.
  svg << absl::StrFormat(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
      "stroke=\"#bbb\" stroke-width=\"0.5\"/>",
      left, top, cols * cell, rows * cell, kEmptyColour);
  for (int64_t s = s_lo; s <= s_hi; s += s_step) {
    svg << absl::StrFormat(
        "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%d</text>",
        left + (s - s_lo + 0.5) * cell, top - 6, s);
  }
  for (int64_t q = q_lo; q <= q_hi; q += q_step) {
    svg << absl::StrFormat(
        "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\" "
        "dominant-baseline=\"middle\">%d</text>",
        left - 4, top + (q - q_lo + 0.5) * cell, q);
  }
  for (const LayerSimilarity* c : grid.cells) {
    svg << absl::StrFormat(
        "<rect class=\"cell%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
        "fill=\"%s\"><title>query layer %d &#8592; source layer %d: Pearson estimate %.4f, "
        "%s (null sd %.4f), %d shared tensors%s</title></rect>",
        registry::WithinNull(*c) ? " null" : " signal", left + (c->source_layer - s_lo) * cell,
        top + (c->query_layer - q_lo) * cell, cell, cell, CellColour(*c), c->query_layer,
        c->source_layer, c->pearson_estimate, FormatZ(c->z), c->null_sd, c->tensors,
        registry::WithinNull(*c) ? ", within the null" : "");
  }
  // Legend: the null band, then the scale of estimates beyond it.
  const double ly = top + rows * cell + 26;
  svg << absl::StrFormat("<g class=\"legend\" transform=\"translate(%.1f,%.1f)\">", left, ly);
  svg << absl::StrFormat(
      "<rect x=\"0\" y=\"0\" width=\"14\" height=\"14\" fill=\"%s\" stroke=\"#999\"/>"
      "<text x=\"18\" y=\"11\" class=\"tick\">within the null (median z &lt; %.0f)</text>",
      kNullColour, registry::kLayerSignalZ);
  svg << "<text x=\"0\" y=\"34\" class=\"tick\">beyond the null, Pearson estimate:</text>";
  const double steps[] = {-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0};
  double x = 196;
  for (double r : steps) {
    LayerSimilarity fake;
    fake.pearson_estimate = r;
    fake.z = registry::kLayerSignalZ + 1;
    svg << absl::StrFormat(
        "<rect x=\"%.0f\" y=\"22\" width=\"26\" height=\"14\" fill=\"%s\" stroke=\"#999\"/>"
        "<text x=\"%.0f\" y=\"50\" class=\"tick\" text-anchor=\"middle\">%g</text>",
        x, CellColour(fake), x + 13, r);
    x += 30;
  }
  svg << absl::StrFormat(
      "<rect x=\"%.0f\" y=\"22\" width=\"14\" height=\"14\" fill=\"%s\" stroke=\"#999\"/>"
      "<text x=\"%.0f\" y=\"33\" class=\"tick\">no shared tensor</text>",
      x + 8, kEmptyColour, x + 26);
  svg << "</g></svg>";
  return svg.str();
}

std::string Heatmaps(const CandidateReport& c, int& next_id) {
  std::map<std::pair<std::string, std::string>, Grid> grids;
  for (const LayerSimilarity& cell : c.layer_similarity) {
    Grid& g = grids[{cell.query_stack, cell.source_stack}];
    g.query_stack = cell.query_stack;
    g.source_stack = cell.source_stack;
    g.cells.push_back(&cell);
    g.max_z = std::max(g.max_z, cell.z);
  }
  std::vector<Grid> ordered;
  for (auto& [key, g] : grids) ordered.push_back(std::move(g));
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Grid& a, const Grid& b) { return a.max_z > b.max_z; });
  std::ostringstream out;
  if (ordered.empty()) {
    out << "<p class=\"note\">No layer heatmap: the query and this model share no layered "
           "tensor (names with a layer index).</p>";
    return out.str();
  }
  int shown = 0;
  for (const Grid& g : ordered) {
    if (shown == kMaxHeatmapsPerCandidate) break;
    out << "<figure>" << Heatmap(g, next_id++) << "<figcaption>Layer similarity, query <code>"
        << Esc(g.query_stack) << "</code> against <code>" << Esc(g.source_stack)
        << "</code>: each cell is the median centred correlation estimate over the tensors the "
           "two layers share. A fine-tune lights the diagonal; repeated rows mean depth "
           "up-scaling; a bent or broken diagonal means dropped or shifted layers.</figcaption>"
        << "</figure>";
    ++shown;
  }
  if (static_cast<int>(ordered.size()) > shown) {
    out << absl::StrFormat("<p class=\"note\">%d more stack pairs with weaker evidence are in "
                           "the JSON report (layer_similarity).</p>",
                           ordered.size() - shown);
  }
  return out.str();
}

std::string Candidate(const CandidateReport& c, int rank, int& next_heatmap) {
  std::ostringstream out;
  out << "<article class=\"candidate\" data-relation=\""
      << std::string(registry::RelationName(c.relation)) << "\">";
  out << "<h3>" << rank << ". " << Esc(c.model.DisplayName()) << " <span class=\"badge "
      << std::string(registry::RelationName(c.relation)) << "\">"
      << std::string(registry::RelationName(c.relation)) << "</span></h3>";
  out << "<table class=\"facts\"><tbody>";
  auto fact = [&](const std::string& k, const std::string& v) {
    out << "<tr><th scope=\"row\">" << k << "</th><td>" << v << "</td></tr>";
  };
  fact("relation", std::string(registry::RelationName(c.relation)));
  fact("share of informative parameters explained", base::FormatShare(c.share_explained));
  fact("identical by value", base::FormatShare(c.share_identical));
  fact("tensors matched", absl::StrCat(c.tensors_matched, " of ", c.tensors_compared));
  fact("median Pearson estimate (centred)", absl::StrFormat("%.4f", c.median_pearson));
  fact("z (normal deviate of p)",
       c.z <= base::kMinDeviate ? std::string("&lt; &#8722;8")
                                              : absl::StrFormat("%.1f", c.z));
  fact("p (corrected for the registry-wide search)", Esc(base::FormatPValue(c.p_value)));
  if (!c.model.license.empty()) fact("license", Esc(c.model.license));
  if (!c.model.source.empty()) fact("source", Esc(c.model.source));
  out << "</tbody></table>";
  out << "<p class=\"explain\">" << Esc(ExplainSignificance(c)) << "</p>";

  out << "<h4>Per component</h4><table class=\"components\"><thead><tr><th>component</th>"
         "<th>relation</th><th>share explained</th><th>informative parameters</th>"
         "<th>tensors matched</th></tr></thead><tbody>";
  for (const registry::ComponentAttribution& comp : c.components) {
    out << "<tr class=\"" << std::string(registry::RelationName(comp.relation)) << "\"><td><code>"
        << Esc(comp.component) << "</code></td><td>"
        << std::string(registry::RelationName(comp.relation)) << "</td><td>"
        << base::FormatShare(comp.share_explained) << "</td><td>" << comp.parameters << "</td><td>"
        << comp.tensors_matched << " / " << comp.tensors << "</td></tr>";
  }
  out << "</tbody></table>";
  out << "<h4>Layer to layer</h4>" << Heatmaps(c, next_heatmap);
  if (!c.strongest.empty()) {
    out << "<h4>Strongest evidence</h4><table class=\"evidence\"><thead><tr><th>query tensor"
           "</th><th>registered tensor</th><th>relation</th><th>Pearson estimate</th><th>z</th>"
           "<th>p</th></tr></thead><tbody>";
    for (const registry::TensorMatch& m : c.strongest) {
      std::string how = m.hash_match != registry::HashMatch::kNone
                            ? absl::StrCat(" (", std::string(registry::HashMatchName(m.hash_match)), " hash)")
                            : "";
      out << "<tr><td><code>" << Esc(m.query_tensor) << "</code></td><td><code>" << Esc(m.tensor)
          << "</code></td><td>" << std::string(registry::RelationName(m.relation)) << Esc(how)
          << "</td><td>" << absl::StrFormat("%.4f", m.pearson_estimate) << "</td><td>"
          << absl::StrFormat("%.1f", m.z) << "</td><td>" << Esc(base::FormatPValue(m.p_value))
          << "</td></tr>";
    }
    out << "</tbody></table>";
  }
  out << "</article>";
  return out.str();
}

std::string Audit(const registry::OriginAudit& audit) {
  std::ostringstream out;
  out << "<section id=\"audit\"><h2>From-scratch audit</h2>";
  out << "<p>Share of the query's informative parameters with <em>any</em> registered origin "
         "(the union over every model re-scored, each parameter counted once), and the share "
         "with none.</p>";
  out << "<table class=\"audit\"><thead><tr><th>scope</th><th>informative parameters</th>"
         "<th>registered origin</th><th>no registered origin</th><th>from</th></tr></thead>"
         "<tbody>";
  auto row = [&](const registry::OriginScope& s, const std::string& label) {
    std::string from;
    for (const registry::ModelOrigin& o : s.origins) {
      absl::StrAppend(&from, from.empty() ? "" : "<br>", Esc(o.model_name), " (",
                      base::FormatShare(o.share), ")");
    }
    out << "<tr><td>" << label << "</td><td>" << s.parameters << "</td><td>"
        << base::FormatShare(s.share_with_origin) << "</td><td>"
        << base::FormatShare(s.share_without_origin) << "</td><td>"
        << (from.empty() ? "&#8212;" : from) << "</td></tr>";
  };
  row(audit.total, "<strong>whole model</strong>");
  for (const registry::OriginScope& s : audit.components) {
    row(s, absl::StrCat("<code>", Esc(s.component), "</code>"));
  }
  out << "</tbody></table>";
  out << "<p class=\"statement\">" << Esc(audit.statement) << "</p></section>";
  return out.str();
}

std::string Lineage(const registry::LineageCheck& lineage) {
  std::ostringstream out;
  out << "<section id=\"lineage\"><h2>Declared vs evidenced lineage</h2><p>Declared: ";
  if (lineage.declared_base_models.empty()) {
    out << "no base model";
  } else {
    for (size_t i = 0; i < lineage.declared_base_models.size(); ++i) {
      out << (i ? ", " : "") << "<code>" << Esc(lineage.declared_base_models[i]) << "</code>";
    }
    if (!lineage.declared_relation.empty()) out << " (" << Esc(lineage.declared_relation) << ")";
  }
  if (!lineage.declared_in.empty()) out << " &#8212; from the " << Esc(lineage.declared_in);
  out << ".</p><ul class=\"flags\">";
  if (lineage.flags.empty()) out << "<li class=\"flag consistent\">Nothing declared and nothing evidenced.</li>";
  for (const registry::LineageFlag& f : lineage.flags) {
    out << "<li class=\"flag " << registry::LineageFlagName(f.kind) << "\">" << Esc(f.message)
        << "</li>";
  }
  out << "</ul></section>";
  return out.str();
}

constexpr char kStyle[] = R"css(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1b;margin:0;background:#fafaf7}
main{max-width:1040px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:18px;margin:20px 0 8px}h4{font-size:15px;margin:16px 0 6px}
.meta{color:#666;font-size:13px}.verdict{font-size:18px;font-weight:600;background:#fff;border-left:5px solid #333;padding:10px 14px}
table{border-collapse:collapse;margin:6px 0 12px;background:#fff}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f0efe9}table.facts th{font-weight:500;color:#444;background:#f6f5f0}
code{font:13px ui-monospace,Menlo,Consolas,monospace}
.badge{font-size:13px;padding:2px 8px;border-radius:10px;color:#fff;vertical-align:middle}
.badge.identical{background:#7a0019}.badge.derived{background:#b34700}.badge.unrelated{background:#666}
tr.derived td,tr.identical td{background:#fff3e6}
.candidate{background:#fff;border:1px solid #e1e0d8;border-radius:6px;padding:4px 18px 12px;margin:16px 0}
.explain{background:#f6f5f0;padding:8px 12px;border-radius:4px}
.flags{padding-left:20px}.flag{margin:4px 0}.flag.undeclared_reuse,.flag.unsupported_claim{color:#8a1c00;font-weight:600}
.flag.unverifiable{color:#6a5a00}.flag.consistent{color:#1d5e20}
.statement{font-size:14px;color:#333;background:#f6f5f0;padding:8px 12px;border-radius:4px}
figure{margin:8px 0 16px;overflow-x:auto}figcaption{font-size:13px;color:#555;max-width:760px}
svg.heatmap .tick{font-size:10px;fill:#444}svg.heatmap .axis-title{font-size:12px;fill:#222}
.note{color:#666;font-size:13px}#selfcheck{color:#999;font-size:11px;margin-top:32px}
)css";

// Checks the page's own structure: every heatmap has as many cells as it says, tables have
// rows. Writes "ok" or "fail" into #selfcheck for the browser test.
constexpr char kSelfCheck[] = R"js(
(function () {
  var problems = [];
  var maps = document.querySelectorAll('svg.heatmap');
  for (var i = 0; i < maps.length; i++) {
    var want = parseInt(maps[i].getAttribute('data-cells'), 10);
    var got = maps[i].querySelectorAll('rect.cell').length;
    if (want !== got) problems.push('heatmap ' + i + ': ' + got + ' of ' + want + ' cells');
    var box = maps[i].getBoundingClientRect();
    if (box.width < 100 || box.height < 100) problems.push('heatmap ' + i + ' too small');
  }
  var tables = document.querySelectorAll('table');
  for (var j = 0; j < tables.length; j++) {
    if (tables[j].querySelectorAll('tr').length < 1) problems.push('empty table ' + j);
  }
  var want_maps = parseInt(document.body.getAttribute('data-heatmaps'), 10);
  if (maps.length !== want_maps) problems.push(maps.length + ' heatmaps, expected ' + want_maps);
  if (!document.getElementById('verdict')) problems.push('no verdict');
  var out = document.getElementById('selfcheck');
  out.setAttribute('data-status', problems.length ? 'fail' : 'ok');
  out.setAttribute('data-heatmaps', String(maps.length));
  out.setAttribute('data-tables', String(tables.length));
  out.textContent = 'self-check ' + (problems.length ? 'failed: ' + problems.join('; ') : 'ok') +
      ' (' + maps.length + ' heatmaps, ' + tables.length + ' tables)';
  console.log('weightprint ' + out.textContent);
})();
)js";

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n') break;
        if (ch == 0x7f) break;
        out += ch;
    }
  }
  return out;
}

std::string RenderHtmlReport(const registry::ProvenanceReport& report,
                             const HtmlReportContext& context) {
  int heatmaps = 0;
  std::ostringstream body;
  body << "<section id=\"verdict\"><h2>Verdict</h2><p class=\"verdict\">"
       << Esc(registry::ModelVerdict(report)) << "</p>";
  body << absl::StrFormat(
      "<p>The query has %d tensors (%d carry evidence) and %d parameters (%d informative); %d "
      "registered tensors were searched. Every score is a centred (Pearson) correlation "
      "estimate judged against the null of unrelated tensors; raw cosine is never used.</p>",
      report.query_tensors, report.informative_tensors, report.query_parameters,
      report.informative_parameters, report.registry_tensors);
  body << "</section>";
  body << Lineage(report.lineage);
  body << Audit(report.origin_audit);
  body << "<section id=\"candidates\"><h2>Candidates</h2>";
  if (report.candidates.empty()) {
    body << "<p>No registered model is a candidate source: nothing lies beyond the null of "
            "unrelated tensors.</p>";
  }
  int rank = 0;
  for (const CandidateReport& c : report.candidates) body << Candidate(c, ++rank, heatmaps);
  body << "</section>";
  body << "<section id=\"method\"><h2>Reading the numbers</h2><ul>"
          "<li><b>Pearson estimate</b>: the centred correlation of two tensors, estimated from "
          "their sketches; 1 means the same values up to scale and offset, 0 no relation.</li>"
          "<li><b>z</b>: how many null standard deviations an estimate lies above what "
          "unrelated tensors of the same role and size score; clamped at &#8722;8 below.</li>"
          "<li><b>p</b>: the chance of evidence this strong between unrelated models, corrected "
          "for searching the whole registry.</li>"
          "<li><b>Share explained</b>: informative query parameters in tensors matched to the "
          "candidate. Tensors that carry no evidence (constants, untrained gains, tiny, integer "
          "or fixed buffers) are never counted.</li></ul></section>";

  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<title>weightprint report: "
       << Esc(context.query_path) << "</title><style>" << kStyle << "</style></head>";
  page << "<body data-heatmaps=\"" << heatmaps << "\"><main><header>"
       << "<h1>Where do these weights come from?</h1><p class=\"meta\">query: <code>"
       << Esc(context.query_path) << "</code>";
  if (!context.tool_version.empty()) page << " &#183; " << Esc(context.tool_version);
  if (context.generated_unix > 0) {
    std::time_t t = static_cast<std::time_t>(context.generated_unix);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    page << " &#183; generated " << buf;
  }
  page << "</p></header>" << body.str()
       << "<div id=\"selfcheck\" data-status=\"pending\">self-check did not run</div>"
       << "</main><script>" << kSelfCheck << "</script></body></html>\n";
  return page.str();
}

}  // namespace weightprint::client
