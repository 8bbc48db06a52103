// The GGUF reader (llama.cpp's format, versions 2 and 3). The layout is parsed and validated by
// internal::ParseGgufFile at open; this file turns it into the canonical view every
// reader gives: Hugging Face names (internal::CanonicalizeGgufName), shapes in Hugging
// Face order (GGUF lists ne[0], the fastest axis, first, so the shape is the dims reversed), and
// values in Hugging Face layout. Two conversions of llama.cpp's converter are undone while
// streaming, a row or a decode block at a time, so memory stays bounded:
//   - llama-family attn_q / attn_k rows were interleaved per head: ReadTensor emits them back in
//     the original order (each row is ne[0] elements = whole quantization blocks);
//   - Gemma norm gains were stored as (w + 1): ReadTensor emits w as F32.
// docs/formats/GGUF.md lists every rule and its error. Const methods are thread-safe.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/formats/gguf/internal/gguf_file.h"
#include "indexer/formats/gguf/internal/gguf_names.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/mapped_model_reader.h"
#include "indexer/formats/internal/staged_sink.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using internal::GgufCanonicalName;
using internal::GgufFile;
using internal::GgufLayoutFix;
using internal::GgufTensor;
using base::MappedFile;
using internal::StagedSink;

// Elements decoded at once for value fixes; a multiple of every block size.
constexpr size_t kDecodeElements = 4096;

// How one tensor's stored bytes become its canonical bytes.
struct TensorPlan {
  std::string gguf_name;
  DType stored_dtype = DType::kF32;
  uint64_t stored_offset = 0;
  uint64_t stored_bytes = 0;
  GgufLayoutFix fix = GgufLayoutFix::kNone;
  // Row un-permutation: rows of `row_bytes`, in groups of `heads` heads.
  uint64_t rows = 0;
  uint64_t row_bytes = 0;
  uint64_t heads = 0;
  bool decode_rows = false;  // 1-D block-quantized: rows are single elements, decode first
};

// Stored row of canonical row `r`: the converter split each head's rows into two halves and
// interleaved them (row i*half + j of a head went to 2*j + i), so canonical row r comes from
// 2*j + i within its head.
uint64_t StoredRow(uint64_t r, uint64_t head_rows) {
  const uint64_t half = head_rows / 2;
  const uint64_t head = r / head_rows;
  const uint64_t t = r % head_rows;
  const uint64_t i = t / half;
  const uint64_t j = t % half;
  return head * head_rows + 2 * j + i;
}

class GgufReader final : public internal::MappedModelReader {
 public:
  GgufReader(std::string path, std::unique_ptr<MappedFile> file)
      : MappedModelReader("gguf", std::move(path), std::move(file)) {}

  // Lists a tensor; its stored bytes are the plan's range of the file.
  absl::Status Add(TensorInfo info, TensorPlan plan) {
    const uint64_t offset = plan.stored_offset, size = plan.stored_bytes;
    plans_.push_back(std::move(plan));
    absl::Status added = AddTensor(std::move(info), offset, size);
    if (!added.ok()) plans_.pop_back();
    return added;
  }
  using MappedModelReader::set_metadata;

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (absl::Status s = CheckIndex(index); !s.ok()) return s;
    const TensorPlan& p = plans_[index];
    switch (p.fix) {
      case GgufLayoutFix::kNone:
        return sink(TensorBytes(index));
      case GgufLayoutFix::kSubtractOne:
        return StreamMinusOne(index, sink);
      case GgufLayoutFix::kUnpermuteQueryRows:
      case GgufLayoutFix::kUnpermuteKeyRows:
        return p.decode_rows ? StreamDecodedUnpermuted(index, sink) : StreamUnpermuted(index, sink);
    }
    return absl::InternalError(absl::StrCat(path(), ": tensor ", p.gguf_name, ": unknown fix"));
  }

 private:
  // Rows in canonical order, each a contiguous run of the stored bytes.
  absl::Status StreamUnpermuted(size_t index, const ByteSink& sink) const {
    const TensorPlan& p = plans_[index];
    const std::span<const std::byte> stored = TensorBytes(index);
    const uint64_t head_rows = p.rows / p.heads;
    StagedSink out(sink);
    for (uint64_t r = 0; r < p.rows; ++r) {
      const uint64_t s = StoredRow(r, head_rows);
      if (absl::Status st = out.Append(stored.data() + s * p.row_bytes, p.row_bytes); !st.ok()) {
        return st;
      }
    }
    return out.Flush();
  }

  // A 1-D block-quantized tensor (a bias) cannot be permuted inside its blocks: decode it whole
  // (it is one row of a weight, so small) and emit F32 in canonical order.
  absl::Status StreamDecodedUnpermuted(size_t index, const ByteSink& sink) const {
    const TensorPlan& p = plans_[index];
    const std::span<const std::byte> stored = TensorBytes(index);
    const size_t blocks = stored.size() / DTypeSize(p.stored_dtype);
    std::vector<float> values(blocks * DTypeBlockElements(p.stored_dtype));
    DecodeToFloat(p.stored_dtype, stored.data(), blocks, values.data());
    const uint64_t head_rows = p.rows / p.heads;
    std::vector<float> ordered(values.size());
    for (uint64_t r = 0; r < p.rows; ++r) ordered[r] = values[StoredRow(r, head_rows)];
    return sink(std::as_bytes(std::span<const float>(ordered)));
  }

  // Decodes the stored values a block at a time, subtracts 1 and emits F32.
  absl::Status StreamMinusOne(size_t index, const ByteSink& sink) const {
    const TensorPlan& p = plans_[index];
    const std::span<const std::byte> stored = TensorBytes(index);
    const size_t unit_bytes = DTypeSize(p.stored_dtype);
    const size_t unit_elements = DTypeBlockElements(p.stored_dtype);
    const size_t units_per_chunk = kDecodeElements / unit_elements;
    std::vector<float> values(kDecodeElements);
    size_t units_left = stored.size() / unit_bytes;
    const std::byte* src = stored.data();
    while (units_left > 0) {
      const size_t units = std::min(units_left, units_per_chunk);
      const size_t n = units * unit_elements;
      DecodeToFloat(p.stored_dtype, src, units, values.data());
      for (size_t i = 0; i < n; ++i) values[i] -= 1.0f;
      if (absl::Status s = sink(std::as_bytes(std::span<const float>(values.data(), n))); !s.ok()) {
        return s;
      }
      src += units * unit_bytes;
      units_left -= units;
    }
    return absl::OkStatus();
  }

  std::vector<TensorPlan> plans_;  // parallel to tensors()
};

absl::Status TensorError(const std::string& path, const GgufTensor& t, const std::string& name,
                         const std::string& what) {
  const std::string label =
      name == t.name ? absl::StrCat("tensor \"", t.name, "\"")
                     : absl::StrCat("tensor \"", t.name, "\" (", name, ")");
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": offset ", t.info_offset, ": ", label, ": ", what));
}

// Fills the row-permutation fields of `plan`, or explains why the tensor cannot be un-permuted.
absl::Status PlanUnpermute(const std::string& path, const GgufFile& file,
                           const std::string& architecture, const GgufTensor& t,
                           const GgufCanonicalName& canonical, TensorPlan* plan) {
  const std::string head_key = absl::StrCat(architecture, ".attention.head_count");
  const std::string kv_key = absl::StrCat(architecture, ".attention.head_count_kv");
  const size_t layer = canonical.layer < 0 ? 0 : static_cast<size_t>(canonical.layer);
  std::optional<uint64_t> heads = file.GetCount(head_key, layer);
  if (canonical.fix == GgufLayoutFix::kUnpermuteKeyRows) {
    if (const internal::GgufValue* kv = file.Find(kv_key); kv != nullptr) {
      heads = file.GetCount(kv_key, layer);
      if (!heads.has_value()) {
        return TensorError(path, t, canonical.name,
                           absl::StrCat("expected ", kv_key, " to be a non-negative integer to "
                                        "undo the converter's row permutation"));
      }
    }
  }
  if (!heads.has_value() || *heads == 0) {
    return TensorError(path, t, canonical.name,
                       absl::StrCat("expected a positive integer ", head_key,
                                    " to undo the converter's row permutation"));
  }
  if (t.ne.size() == 2) {
    plan->rows = t.ne[1];
    plan->row_bytes = t.ne[0] / DTypeBlockElements(t.dtype) * DTypeSize(t.dtype);
  } else if (t.ne.size() == 1) {
    plan->rows = t.ne[0];
    plan->row_bytes = DTypeSize(t.dtype);
    plan->decode_rows = IsBlockQuantized(t.dtype);
  } else {
    return TensorError(path, t, canonical.name,
                       absl::StrCat("expected a 1-D or 2-D attention tensor, got ", t.ne.size(),
                                    " dimensions"));
  }
  if (plan->rows % (2 * *heads) != 0) {
    return TensorError(path, t, canonical.name,
                       absl::StrCat("expected ", plan->rows, " rows to split into ", *heads,
                                    " heads of an even number of rows"));
  }
  plan->heads = *heads;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenGguf(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  absl::StatusOr<GgufFile> parsed = internal::ParseGgufFile(path, (*mapped)->bytes());
  if (!parsed.ok()) return parsed.status();
  const GgufFile& file = *parsed;

  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : file.metadata) {
    if (std::optional<std::string> text = value.ToText(); text.has_value()) {
      metadata.emplace(key, *std::move(text));
    }
  }
  const std::string architecture = file.GetString("general.architecture").value_or("");

  auto reader = std::make_unique<GgufReader>(path, *std::move(mapped));
  std::map<std::string, const GgufTensor*> canonical_names;
  for (const GgufTensor& t : file.tensors) {
    const GgufCanonicalName canonical =
        internal::CanonicalizeGgufName(architecture, t.name);
    const auto [it, inserted] = canonical_names.emplace(canonical.name, &t);
    if (!inserted) {
      return TensorError(path, t, canonical.name,
                         absl::StrCat("maps to the same name as tensor \"", it->second->name,
                                      "\"; expected canonical names to be unique"));
    }
    TensorPlan plan;
    plan.gguf_name = t.name;
    plan.stored_dtype = t.dtype;
    plan.stored_offset = t.offset;
    plan.stored_bytes = t.size_bytes;
    plan.fix = canonical.fix;

    TensorInfo info;
    info.name = canonical.name;
    info.dtype = t.dtype;
    info.shape.assign(t.ne.rbegin(), t.ne.rend());  // dims are validated to fit in int64
    info.offset = t.offset;
    info.size_bytes = t.size_bytes;
    if (plan.fix == GgufLayoutFix::kUnpermuteQueryRows ||
        plan.fix == GgufLayoutFix::kUnpermuteKeyRows) {
      if (absl::Status s = PlanUnpermute(path, file, architecture, t, canonical, &plan); !s.ok()) {
        return s;
      }
      if (plan.decode_rows) {
        info.dtype = DType::kF32;
        info.size_bytes = t.num_elements() * sizeof(float);
      }
    } else if (plan.fix == GgufLayoutFix::kSubtractOne) {
      // The values streamed are decoded floats, so the tensor reads as F32 whatever its storage.
      info.dtype = DType::kF32;
      info.size_bytes = t.num_elements() * sizeof(float);
    }
    if (absl::Status s = reader->Add(std::move(info), std::move(plan)); !s.ok()) return s;
  }
  reader->set_metadata(std::move(metadata));
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace weightprint::indexer
