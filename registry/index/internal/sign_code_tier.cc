#include "registry/index/internal/sign_code_tier.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/half_float.h"
#include "registry/internal/dot_product.h"
#include "registry/internal/error_text.h"
#include "registry/index/internal/hamming.h"
#include "registry/index/internal/huge_pages.h"

namespace weightprint::registry::internal {
namespace {

// Codes scanned per step: 4096 codes of 256 bits are 128 KiB, which stays in the L2 cache while
// every query of a batch scans it.
constexpr size_t kBlocksPerChunk = 512;

// 64 sign bits of 64 binary16 values: bit i set when value i is positive, that is sign clear
// and not zero, which is exactly "greater than zero" read as a signed 16-bit integer.
uint64_t SignWord(const uint16_t* v) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  uint64_t bits = 0;
  for (int j = 0; j < 4; ++j) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 16 * j));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 16 * j + 8));
    const __m128i positive = _mm_packs_epi16(_mm_cmpgt_epi16(a, zero), _mm_cmpgt_epi16(b, zero));
    bits |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(positive)) & 0xffffu)
            << (16 * j);
  }
  return bits;
#else
  uint64_t bits = 0;
  for (int i = 0; i < 64; ++i) {
    bits |= static_cast<uint64_t>(static_cast<int16_t>(v[i]) > 0) << i;
  }
  return bits;
#endif
}

// Whether any of the `count` binary16 values is infinite or NaN (every exponent bit set).
bool AnyNonFinite(const uint16_t* v, size_t count) {
  size_t i = 0;
  unsigned bad = 0;
#if defined(__SSE2__)
  const __m128i exponent = _mm_set1_epi16(0x7c00);
  __m128i any = _mm_setzero_si128();
  for (; i + 8 <= count; i += 8) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i));
    any = _mm_or_si128(any, _mm_cmpeq_epi16(_mm_and_si128(a, exponent), exponent));
  }
  bad = static_cast<unsigned>(_mm_movemask_epi8(any));
#endif
  for (; i < count; ++i) bad |= (v[i] & 0x7c00u) == 0x7c00u;
  return bad != 0;
}

// Below this many vectors a load indexes its ids on the calling thread alone.
constexpr size_t kParallelIndexing = 1 << 16;

}  // namespace


// The `keep` nearest of everything a query's scan offers, with a threshold that tightens as
// the buffer fills: codes that cannot be among the keep nearest are dropped on sight, and the
// buffer is cut back to `keep` whenever it reaches twice that.
class SignCodeTier::NearestCodes {
 public:
  static bool Closer(const Near& a, const Near& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.slot < b.slot;
  }
  explicit NearestCodes(size_t keep) : keep_(keep) { buffer_.reserve(2 * keep + 8); }
  // The greatest distance a code offered from here on may have and still be kept. A scan
  // offers codes in ascending slot order, so after a cut a code at exactly the keep-th
  // distance comes after `keep` codes that are nearer or as near with a smaller slot, and
  // cannot be kept: only nearer ones pass (ties at that distance were most of the offers).
  uint16_t threshold() const { return threshold_; }
  void Offer(uint16_t distance, uint32_t slot) {
    ascending_ = ascending_ && (buffer_.empty() || slot > buffer_.back().slot);
    buffer_.push_back({distance, slot});
    if (buffer_.size() >= 2 * keep_) Cut();
  }
  // The kept candidates (in ascending slot order when they were offered so).
  std::vector<Near> Take() {
    if (buffer_.size() > keep_) Cut();
    return std::move(buffer_);
  }

 private:
  // Cuts the buffer back to the keep nearest by (distance, slot).
  void Cut() {
    uint16_t kth = 0;
    if (ascending_) {
      // Offered in ascending slot order (every scan offers so), the buffer is in the order of
      // the tie rule already: count the distances, find the keep-th, and keep in one stable
      // pass everything nearer plus the first codes at that distance. Linear, where a
      // selection by comparisons took a quarter of a loaded registry's query time.
      uint16_t farthest = 0;
      for (const Near& c : buffer_) farthest = std::max(farthest, c.distance);
      counts_.assign(size_t{farthest} + 1, 0);
      for (const Near& c : buffer_) ++counts_[c.distance];
      size_t nearer = 0;
      while (nearer + counts_[kth] < keep_) nearer += counts_[kth++];
      size_t ties = keep_ - nearer;  // codes at distance kth that stay
      size_t out = 0;
      for (const Near& c : buffer_) {
        if (c.distance < kth || (c.distance == kth && ties > 0)) {
          ties -= c.distance == kth;
          buffer_[out++] = c;
        }
      }
      buffer_.resize(out);
    } else {
      std::nth_element(buffer_.begin(), buffer_.begin() + (keep_ - 1), buffer_.end(), Closer);
      buffer_.resize(keep_);
      kth = buffer_[keep_ - 1].distance;
    }
    // At distance 0 nothing is nearer; passing ties then only costs the cut that drops them.
    threshold_ = kth > 0 ? static_cast<uint16_t>(kth - 1) : 0;
  }
  size_t keep_;
  uint16_t threshold_ = std::numeric_limits<uint16_t>::max();
  bool ascending_ = true;         // every offer so far came after the one before, by slot
  std::vector<Near> buffer_;
  std::vector<uint32_t> counts_;  // scratch of Cut: codes per distance
};

namespace {

// The sign code of a float query: bit i set when coordinate i is positive.
void EncodeQuery(const float* v, int dim, uint64_t* code, size_t words) {
  std::fill(code, code + words, 0);
  for (int i = 0; i < dim; ++i) {
    if (v[i] > 0) code[i / 64] |= uint64_t{1} << (i % 64);
  }
}

// The query's inner product with the ±1 vector a sign code stands for, sum of q[i] * (bit i ?
// 1 : -1), by one table per code byte: table[j * 256 + v] is that sum over coordinates
// 8j..8j+7 for byte value v. For an unrelated unit vector this score has mean 0 and standard
// deviation |q| = 1; for the source at correlation rho its mean is about rho * sqrt(2 dim / pi)
// (12.8 rho at 256 dimensions). It ranks candidates better than the Hamming distance, which
// also quantises the query.
class AsymmetricScorer {
 public:
  AsymmetricScorer(const float* query, int dim, size_t words)
      : bytes_(words * 8), table_(bytes_ * 256) {
    for (size_t j = 0; j < bytes_; ++j) {
      float coordinate[8];
      float all_negative = 0;
      for (int b = 0; b < 8; ++b) {
        const size_t i = j * 8 + b;
        coordinate[b] = i < static_cast<size_t>(dim) ? query[i] : 0.0f;
        all_negative -= coordinate[b];
      }
      float* t = table_.data() + j * 256;
      t[0] = all_negative;
      for (int v = 1; v < 256; ++v) {
        const int low = __builtin_ctz(static_cast<unsigned>(v));
        t[v] = t[v & (v - 1)] + 2 * coordinate[low];
      }
    }
  }
  // `code` holds the words of one code at a stride of `stride` words (the block layout).
  float Score(const uint64_t* code, size_t stride) const {
    float sum = 0;
    for (size_t w = 0; w < bytes_ / 8; ++w) {
      uint64_t word = code[w * stride];
      const float* t = table_.data() + w * 8 * 256;
      for (int b = 0; b < 8; ++b, word >>= 8, t += 256) sum += t[word & 0xff];
    }
    return sum;
  }

 private:
  size_t bytes_;
  std::vector<float> table_;
};

}  // namespace

SignCodeTier::SignCodeTier(int dim)
    : dim_(dim), words_((static_cast<size_t>(dim) + 63) / 64) {}

void SignCodeTier::Reserve(size_t n) {
  halves_.Reserve(n * dim_);  // advises huge pages itself
  ids_.reserve(n);
  blocks_.reserve((n + kCodesPerBlock - 1) / kCodesPerBlock * kCodesPerBlock * words_);
  position_.reserve(n);
  AdviseHugePages(blocks_.data(), blocks_.capacity() * sizeof(uint64_t));
}

void SignCodeTier::Grow(size_t more) {
  const size_t needed = ids_.size() + more;
  if (needed <= ids_.capacity()) return;
  Reserve(std::max(needed, ids_.capacity() + ids_.capacity() / 4));
}

void SignCodeTier::EncodeSlot(size_t slot) {
  const size_t block = slot / kCodesPerBlock, lane = slot % kCodesPerBlock;
  const size_t needed = (block + 1) * words_ * kCodesPerBlock;
  if (blocks_.size() < needed) blocks_.resize(needed, 0);
  const uint16_t* v = halves_.data() + slot * dim_;
  uint64_t* base = blocks_.data() + block * words_ * kCodesPerBlock + lane;
  const size_t full_words = static_cast<size_t>(dim_) / 64;
  for (size_t w = 0; w < full_words; ++w) base[w * kCodesPerBlock] = SignWord(v + 64 * w);
  for (size_t w = full_words; w < words_; ++w) base[w * kCodesPerBlock] = 0;
  for (int i = static_cast<int>(full_words) * 64; i < dim_; ++i) {
    // Positive: sign bit clear and not zero (a half's magnitude is its low 15 bits).
    if ((v[i] & 0x8000u) == 0 && (v[i] & 0x7fffu) != 0) {
      base[(i / 64) * kCodesPerBlock] |= uint64_t{1} << (i % 64);
    }
  }
}

std::optional<std::string> SignCodeTier::AddStored(const uint8_t* ids_le, const uint8_t* halves,
                                                   size_t n) {
  Reserve(ids_.size() + n);
  halves_.Append(halves, n * dim_);  // one block copy, whatever the alignment
  return IndexStored(ids_le, n);
}

std::optional<std::string> SignCodeTier::AdoptStored(const uint8_t* ids_le, HalfStorage values,
                                                     size_t n) {
  halves_ = std::move(values);
  Reserve(n);  // the values already hold n vectors: only the ids, codes and map grow
  return IndexStored(ids_le, n);
}

std::optional<std::string> SignCodeTier::IndexStored(const uint8_t* ids_le, size_t n) {
  const size_t first = ids_.size();
  blocks_.resize((first + n + kCodesPerBlock - 1) / kCodesPerBlock * words_ * kCodesPerBlock, 0);
  ids_.resize(first + n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    for (int b = 7; b >= 0; --b) id = (id << 8) | ids_le[8 * i + b];
    ids_[first + i] = id;
  }
  // The id map and the codes are independent work over millions of vectors: the map is built
  // on a second thread while this one encodes the codes and checks the values.
  std::optional<std::string> repeated;
  auto map_ids = [&] {
    for (size_t i = 0; i < n; ++i) {
      if (!position_.emplace(ids_[first + i], static_cast<uint32_t>(first + i)).second) {
        repeated = ErrorText("id ", ids_[first + i], " stored twice");
        return;
      }
    }
  };
  std::thread mapper;
  if (n >= kParallelIndexing) mapper = std::thread(map_ids);
  size_t first_bad = n;
  for (size_t i = 0; i < n; ++i) {
    if (first_bad == n && AnyNonFinite(halves_.data() + (first + i) * dim_, dim_)) first_bad = i;
    EncodeSlot(first + i);
  }
  if (mapper.joinable()) {
    mapper.join();
  } else {
    map_ids();
  }
  if (repeated.has_value()) return repeated;
  if (first_bad < n) {
    const uint16_t* v = halves_.data() + (first + first_bad) * dim_;
    int value = 0;
    while ((v[value] & 0x7c00u) != 0x7c00u) ++value;
    return ErrorText("value ", value, " of vector ", first_bad, " is not finite");
  }
  return std::nullopt;
}

void SignCodeTier::AddHalves(uint64_t id, const uint16_t* halves) {
  const size_t slot = ids_.size();
  halves_.Append(halves, dim_);
  ids_.push_back(id);
  position_.emplace(id, static_cast<uint32_t>(slot));
  EncodeSlot(slot);
}

void SignCodeTier::Add(std::span<const uint64_t> ids, std::span<const float> vectors) {
  Grow(ids.size());
  std::vector<uint16_t> halves(dim_);
  for (size_t i = 0; i < ids.size(); ++i) {
    const float* v = vectors.data() + i * dim_;
    for (int j = 0; j < dim_; ++j) halves[j] = base::EncodeF16(v[j]);
    AddHalves(ids[i], halves.data());
  }
}

void SignCodeTier::Remove(uint64_t id) {
  auto it = position_.find(id);
  if (it == position_.end()) return;
  const size_t slot = it->second, last = ids_.size() - 1;
  position_.erase(it);
  if (slot != last) {
    std::memcpy(halves_.data() + slot * dim_, halves_.data() + last * dim_,
                sizeof(uint16_t) * dim_);
    ids_[slot] = ids_[last];
    position_[ids_[slot]] = static_cast<uint32_t>(slot);
    EncodeSlot(slot);
  }
  ids_.pop_back();
  halves_.Truncate(last * dim_);
  // Shrink the code blocks to those still used; the freed lane's bits no longer matter (scans
  // stop at size()).
  const size_t blocks = (last + kCodesPerBlock - 1) / kCodesPerBlock;
  blocks_.resize(blocks * words_ * kCodesPerBlock);
}

void SignCodeTier::Scan(const uint64_t* codes, size_t first_query, size_t end_query,
                        size_t first_block, size_t end_block, NearestCodes* nearest) const {
  const size_t total = ids_.size();
  std::vector<uint16_t> distances(kBlocksPerChunk * kCodesPerBlock);
  std::vector<uint32_t> passed(kBlocksPerChunk * kCodesPerBlock);
  // Chunk-major: each chunk of codes is read from memory once for the whole batch.
  for (size_t first = first_block; first < end_block; first += kBlocksPerChunk) {
    const size_t blocks = std::min(kBlocksPerChunk, end_block - first);
    const uint64_t* chunk = blocks_.data() + first * words_ * kCodesPerBlock;
    const size_t first_slot = first * kCodesPerBlock;
    const size_t slots = std::min(blocks * kCodesPerBlock, total - first_slot);
    for (size_t q = first_query; q < end_query; ++q) {
      BlockHamming(codes + q * words_, chunk, blocks, words_, distances.data());
      NearestCodes& best = nearest[q];
      const size_t count = AtMost(distances.data(), slots, best.threshold(), passed.data());
      for (size_t j = 0; j < count; ++j) {
        // The threshold may have dropped since the chunk was filtered.
        const uint32_t i = passed[j];
        if (distances[i] <= best.threshold()) {
          best.Offer(distances[i], static_cast<uint32_t>(first_slot + i));
        }
      }
    }
  }
}

std::vector<SearchHit> SignCodeTier::Rank(const float* query, std::vector<Near> near, size_t k,
                                          size_t exact) const {
  struct Scored {
    float score;
    uint32_t slot;
  };
  std::vector<Scored> scored;
  scored.reserve(near.size());
  if (exact < near.size()) {
    // The Hamming candidates, ranked by the asymmetric score; the best `exact` go on.
    const AsymmetricScorer scorer(query, dim_, words_);
    auto code_of = [&](uint32_t slot) {
      const size_t block = slot / kCodesPerBlock, lane = slot % kCodesPerBlock;
      return blocks_.data() + block * words_ * kCodesPerBlock + lane;
    };
    // The candidates' codes are scattered over the whole tier (one cache line per word):
    // fetch a few candidates ahead so that the misses overlap instead of queueing.
    constexpr size_t kAhead = 16;
    for (size_t i = 0; i < near.size(); ++i) {
      if (i + kAhead < near.size()) {
        const uint64_t* ahead = code_of(near[i + kAhead].slot);
        for (size_t w = 0; w < words_; ++w) __builtin_prefetch(ahead + w * kCodesPerBlock);
      }
      scored.push_back({scorer.Score(code_of(near[i].slot), kCodesPerBlock), near[i].slot});
    }
    std::nth_element(scored.begin(), scored.begin() + (exact - 1), scored.end(),
                     [](const Scored& a, const Scored& b) {
                       return a.score != b.score ? a.score > b.score : a.slot < b.slot;
                     });
    scored.resize(exact);
  } else {
    for (const Near& c : near) scored.push_back({0, c.slot});
  }
  std::vector<SearchHit> hits;
  hits.reserve(scored.size());
  const size_t row_bytes = sizeof(uint16_t) * static_cast<size_t>(dim_);
  for (size_t i = 0; i < scored.size(); ++i) {
    if (i + 4 < scored.size()) {  // as above, for the half-precision rows of the re-ranking
      const char* ahead =
          reinterpret_cast<const char*>(halves_.data() + size_t{scored[i + 4].slot} * dim_);
      for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b);
    }
    const Scored& c = scored[i];
    hits.push_back({ids_[c.slot], DotF16(query, halves_.data() + size_t{c.slot} * dim_,
                                         static_cast<size_t>(dim_))});
  }
  const size_t top = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + top, hits.end(),
                    [](const SearchHit& a, const SearchHit& b) {
                      return a.score != b.score ? a.score > b.score : a.vector_id < b.vector_id;
                    });
  hits.resize(top);
  return hits;
}

std::vector<std::vector<SearchHit>> SignCodeTier::Search(std::span<const float> queries,
                                                         size_t k, size_t candidates,
                                                         size_t rerank, size_t threads,
                                                         size_t min_codes_per_thread) const {
  const size_t n = queries.size() / dim_;
  std::vector<std::vector<SearchHit>> results(n);
  const size_t total = ids_.size();
  if (n == 0 || k == 0 || total == 0) return results;
  const size_t keep = std::min(total, std::max(candidates, k));
  const size_t exact = std::min(keep, std::max(rerank, k));

  std::vector<uint64_t> codes(n * words_);
  for (size_t q = 0; q < n; ++q) {
    EncodeQuery(queries.data() + q * dim_, dim_, codes.data() + q * words_, words_);
  }
  const size_t total_blocks = (total + kCodesPerBlock - 1) / kCodesPerBlock;
  // Threads only where the work is worth starting them for.
  threads = std::max<size_t>(
      1, std::min(threads, n * total / std::max<size_t>(1, min_codes_per_thread)));
  if (threads == 1) {
    std::vector<NearestCodes> nearest(n, NearestCodes(keep));
    Scan(codes.data(), 0, n, 0, total_blocks, nearest.data());
    for (size_t q = 0; q < n; ++q) {
      results[q] = Rank(queries.data() + q * dim_, nearest[q].Take(), k, exact);
    }
    return results;
  }
  std::vector<std::thread> workers;
  if (n >= threads) {
    // A batch: each thread takes a share of the queries, scanning every code for them.
    for (size_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const size_t begin = n * t / threads, end = n * (t + 1) / threads;
        std::vector<NearestCodes> nearest(n, NearestCodes(0));
        for (size_t q = begin; q < end; ++q) nearest[q] = NearestCodes(keep);
        Scan(codes.data(), begin, end, 0, total_blocks, nearest.data());
        for (size_t q = begin; q < end; ++q) {
          results[q] = Rank(queries.data() + q * dim_, nearest[q].Take(), k, exact);
        }
      });
    }
    for (std::thread& w : workers) w.join();
    return results;
  }
  // Few queries: each thread scans a share of the codes for all of them; the shares' nearest
  // are merged (the candidate rule is a total order, so the result is the one-thread result).
  std::vector<std::vector<NearestCodes>> parts(threads);
  for (size_t t = 0; t < threads; ++t) {
    parts[t].assign(n, NearestCodes(keep));
    workers.emplace_back([&, t] {
      const size_t begin = total_blocks * t / threads, end = total_blocks * (t + 1) / threads;
      Scan(codes.data(), 0, n, begin, end, parts[t].data());
    });
  }
  for (std::thread& w : workers) w.join();
  for (size_t q = 0; q < n; ++q) {
    NearestCodes merged(keep);
    for (size_t t = 0; t < threads; ++t) {
      for (const Near& c : parts[t][q].Take()) merged.Offer(c.distance, c.slot);
    }
    results[q] = Rank(queries.data() + q * dim_, merged.Take(), k, exact);
  }
  return results;
}

}  // namespace weightprint::registry::internal
