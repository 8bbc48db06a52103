#include "registry/index/index_recovery.h"

#include <chrono>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry {
namespace {

constexpr size_t kAddBatch = 4096;

// Collects vectors and adds them to an index in batches.
class BatchAdder {
 public:
  explicit BatchAdder(SketchIndex* index) : index_(index) {}
  absl::Status Add(uint64_t id, std::span<const float> sketch) {
    ids_.push_back(id);
    vectors_.insert(vectors_.end(), sketch.begin(), sketch.end());
    return ids_.size() >= kAddBatch ? Flush() : absl::OkStatus();
  }
  absl::Status Flush() {
    absl::Status s = index_->Add(ids_, vectors_);
    ids_.clear();
    vectors_.clear();
    return s;
  }

 private:
  SketchIndex* index_;
  std::vector<uint64_t> ids_;
  std::vector<float> vectors_;
};

// Applies the log records after `saved_epoch` to `index`. An error status means the index
// cannot be caught up (its message says why) and must be rebuilt.
absl::StatusOr<uint64_t> Replay(const FingerprintStore& store, uint64_t saved_epoch,
                                uint64_t store_epoch, SketchIndex* index) {
  uint64_t expected = saved_epoch + 1;
  uint64_t applied = 0;
  BatchAdder adder(index);
  absl::Status visited = store.ForEachIndexChange(
      saved_epoch, [&](uint64_t epoch, const IndexChange& change) -> absl::Status {
        if (epoch > store_epoch) return absl::OkStatus();  // cannot happen: no writer yet
        if (epoch != expected) {
          return absl::NotFoundError(absl::StrCat("the change log lacks epoch ", expected));
        }
        ++expected;
        ++applied;
        if (change.added_count > 0) {
          absl::Status s = store.ForEachVectorInRange(
              change.first_added, change.first_added + change.added_count,
              [&](uint64_t id, uint64_t, std::string_view, std::span<const float> sketch) {
                return adder.Add(id, sketch);
              });
          if (!s.ok()) return s;
        }
        if (!change.removed.empty()) {
          // A removal may name a vector still waiting in the batch.
          if (absl::Status s = adder.Flush(); !s.ok()) return s;
          if (absl::Status s = index->Remove(change.removed); !s.ok()) return s;
        }
        return absl::OkStatus();
      });
  if (!visited.ok()) return visited;
  if (absl::Status s = adder.Flush(); !s.ok()) return s;
  if (expected != store_epoch + 1) {
    return absl::NotFoundError(absl::StrCat("the change log lacks epoch ", expected));
  }
  return applied;
}

}  // namespace

const char* IndexRecoveryPathName(IndexRecoveryReport::Path path) {
  switch (path) {
    case IndexRecoveryReport::Path::kLoaded:
      return "loaded";
    case IndexRecoveryReport::Path::kReplayed:
      return "replayed";
    case IndexRecoveryReport::Path::kRebuilt:
      break;
  }
  return "rebuilt";
}

absl::StatusOr<std::unique_ptr<SketchIndex>> BuildIndexFromStore(const FingerprintStore& store) {
  absl::StatusOr<std::unique_ptr<SketchIndex>> fresh = SketchIndex::Create(indexer::kSketchDim);
  if (!fresh.ok()) return fresh.status();
  BatchAdder adder(fresh->get());
  absl::Status visited = store.ForEachVector(
      [&](uint64_t id, uint64_t, std::string_view, std::span<const float> sketch) {
        return adder.Add(id, sketch);
      });
  if (!visited.ok()) return visited;
  if (absl::Status s = adder.Flush(); !s.ok()) return s;
  return fresh;
}

absl::StatusOr<RecoveredIndex> RecoverIndex(const FingerprintStore& store, const std::string& path,
                                            double max_tombstone_fraction) {
  const auto start = std::chrono::steady_clock::now();
  RecoveredIndex out;
  IndexRecoveryReport& report = out.report;
  report.store_epoch = store.index_epoch();
  const uint64_t live_vectors = store.counts().vectors;

  // Returns a reason to rebuild, or an empty string when `out.index` is usable.
  auto try_saved = [&]() -> std::string {
    uint64_t epoch = 0;
    absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(path, &epoch);
    if (!loaded.ok()) return std::string(loaded.status().message());
    if ((*loaded)->dim() != indexer::kSketchDim) {
      return absl::StrCat("the saved index has dimension ", (*loaded)->dim());
    }
    report.saved_epoch = epoch;
    if (epoch > report.store_epoch) {
      return absl::StrCat("the saved index (epoch ", epoch, ") is newer than the store (epoch ",
                          report.store_epoch, ")");
    }
    if (epoch < report.store_epoch) {
      absl::StatusOr<uint64_t> applied = Replay(store, epoch, report.store_epoch, loaded->get());
      if (!applied.ok()) {
        return absl::StrCat("cannot catch up from epoch ", epoch, " to ", report.store_epoch,
                            ": ", applied.status().message());
      }
      report.replayed_changes = *applied;
      if ((*loaded)->tombstone_fraction() > max_tombstone_fraction) {
        return "the caught-up index holds too many deleted vectors";
      }
    }
    if ((*loaded)->size() != live_vectors) {
      return absl::StrCat("the index holds ", (*loaded)->size(), " vectors, the store ",
                          live_vectors);
    }
    report.converted = (*loaded)->converted_on_load();
    report.path = epoch == report.store_epoch && report.replayed_changes == 0
                      ? IndexRecoveryReport::Path::kLoaded
                      : IndexRecoveryReport::Path::kReplayed;
    out.index = *std::move(loaded);
    return std::string();
  };
  report.rebuild_reason = try_saved();
  if (!report.rebuild_reason.empty()) {
    report.path = IndexRecoveryReport::Path::kRebuilt;
    report.replayed_changes = 0;
    absl::StatusOr<std::unique_ptr<SketchIndex>> rebuilt = BuildIndexFromStore(store);
    if (!rebuilt.ok()) return rebuilt.status();
    out.index = *std::move(rebuilt);
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace weightprint::registry
