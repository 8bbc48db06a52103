// The report as one self-contained HTML page a person can read, attach and defend: the
// verdict, the declared-vs-evidenced lineage, the from-scratch audit, and per candidate the
// relation, share explained, z and p with a sentence saying what they mean, the per-component
// table and a layer-to-layer similarity heatmap (inline SVG: query layers down, source layers
// across, cells coloured by the centred correlation estimate, cells inside the null band drawn
// neutral, with a legend).
//
// Nothing is loaded from anywhere: no fonts, scripts, images or styles outside the file, and a
// Content-Security-Policy forbids the browser from fetching any. Every text from the report
// (model names, tensor names, the query path) is untrusted and HTML-escaped. A small inline
// script checks the page's own elements and writes the result into #selfcheck
// (data-status="ok" or "fail"), which the browser test reads. Pure functions.
#ifndef WEIGHTPRINT_CLIENT_HTML_REPORT_H_
#define WEIGHTPRINT_CLIENT_HTML_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "registry/provenance/provenance_report.h"

namespace weightprint::client {

struct HtmlReportContext {
  std::string query_path;        // what was queried, as the user named it
  std::string tool_version;      // e.g. "weightprint 0.1.0"
  int64_t generated_unix = 0;    // 0: omitted
};

std::string RenderHtmlReport(const registry::ProvenanceReport& report,
                             const HtmlReportContext& context);

// &, <, >, " and ' as entities; control characters other than tab and newline dropped.
std::string HtmlEscape(std::string_view text);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_HTML_REPORT_H_
