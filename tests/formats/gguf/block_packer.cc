#include "tests/formats/gguf/block_packer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace weightprint::testing {
namespace {

using indexer::DType;

void PutHalf(std::string& out, size_t at, float v) {
  const uint16_t h = indexer::FloatToF16(v);
  out[at] = static_cast<char>(h & 0xFF);
  out[at + 1] = static_cast<char>(h >> 8);
}

void SetBits(std::string& out, size_t byte, int shift, int value) {
  out[byte] = static_cast<char>(static_cast<uint8_t>(out[byte]) | (value << shift));
}

// Smallest f16 value >= v (v >= 0), as a float.
float HalfUp(float v) {
  uint16_t h = indexer::FloatToF16(v);
  if (indexer::F16ToFloat(h) < v) ++h;
  return indexer::F16ToFloat(h);
}

int CeilDiv(float need, float step, int max_code) {
  if (step <= 0) return 0;
  return std::clamp(static_cast<int>(std::ceil(need / step)), 0, max_code);
}

int RoundClamp(double x, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(x)), lo, hi);
}

int NearestGrid(double x) {
  int best = 0;
  for (int i = 1; i < 16; ++i) {
    if (std::fabs(x - kTestIq4Grid[i]) < std::fabs(x - kTestIq4Grid[best])) best = i;
  }
  return best;
}

// Q4_K / Q5_K 12-byte scale packing (8 six-bit scales, 8 six-bit mins).
void PackScalesK4(std::string& out, size_t at, const std::vector<int>& sc,
                  const std::vector<int>& mn) {
  for (int j = 0; j < 4; ++j) {
    out[at + j] = static_cast<char>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[at + 4 + j] = static_cast<char>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    out[at + 8 + j] = static_cast<char>((sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4));
  }
}

struct SubStats {
  float lo = 0, hi = 0;
};

SubStats Stats(const float* x, int n) {
  SubStats s{x[0], x[0]};
  for (int i = 1; i < n; ++i) {
    s.lo = std::min(s.lo, x[i]);
    s.hi = std::max(s.hi, x[i]);
  }
  return s;
}

// Asymmetric two-level quantization (Q2_K, Q4_K, Q5_K): value = (d*sc)*q - (dmin*mn).
LogicalBlock QuantizeWithMins(const float* x, int sub_size, int levels, int max_code) {
  const int subs = 256 / sub_size;
  LogicalBlock b;
  std::vector<float> min_need(subs), scale_need(subs);
  float max_min = 0;
  for (int s = 0; s < subs; ++s) {
    min_need[s] = std::max(0.0f, -Stats(x + s * sub_size, sub_size).lo);
    max_min = std::max(max_min, min_need[s]);
  }
  b.m = HalfUp(max_min / static_cast<float>(max_code));
  std::vector<float> m_eff(subs);
  for (int s = 0; s < subs; ++s) {
    b.mins.push_back(CeilDiv(min_need[s], b.m, max_code));
    m_eff[s] = b.m * static_cast<float>(b.mins[s]);
  }
  float max_scale = 0;
  for (int s = 0; s < subs; ++s) {
    const float range = std::max(0.0f, Stats(x + s * sub_size, sub_size).hi + m_eff[s]);
    scale_need[s] = range / static_cast<float>(levels);
    max_scale = std::max(max_scale, scale_need[s]);
  }
  b.d = HalfUp(max_scale / static_cast<float>(max_code));
  for (int s = 0; s < subs; ++s) b.scales.push_back(CeilDiv(scale_need[s], b.d, max_code));
  for (int e = 0; e < 256; ++e) {
    const int s = e / sub_size;
    const float step = b.d * static_cast<float>(b.scales[s]);
    b.q.push_back(step > 0 ? RoundClamp((x[e] + m_eff[s]) / step, 0, levels) : 0);
  }
  return b;
}

// Symmetric two-level quantization (Q3_K, Q6_K, IQ4_XS): value = (d*sc)*level(q), where the
// levels reach `neg` below and `pos` above zero.
LogicalBlock QuantizeSymmetric(const float* x, int sub_size, double neg, double pos, int max_code,
                               bool grid, int q_lo, int q_hi) {
  const int subs = 256 / sub_size;
  LogicalBlock b;
  std::vector<float> need(subs);
  float max_need = 0;
  for (int s = 0; s < subs; ++s) {
    const SubStats st = Stats(x + s * sub_size, sub_size);
    need[s] = static_cast<float>(std::max(-st.lo / neg, st.hi / pos));
    max_need = std::max(max_need, need[s]);
  }
  b.d = HalfUp(max_need / static_cast<float>(max_code));
  for (int s = 0; s < subs; ++s) b.scales.push_back(CeilDiv(need[s], b.d, max_code));
  for (int e = 0; e < 256; ++e) {
    const float step = b.d * static_cast<float>(b.scales[e / sub_size]);
    if (grid) {
      b.q.push_back(step > 0 ? NearestGrid(x[e] / step) : 8);
    } else {
      b.q.push_back(step > 0 ? RoundClamp(x[e] / step, q_lo, q_hi) : 0);
    }
  }
  return b;
}

LogicalBlock QuantizeBlock(DType dtype, const float* x) {
  LogicalBlock b;
  switch (dtype) {
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ8_0:
    case DType::kIQ4_NL: {
      const SubStats st = Stats(x, 32);
      double neg, pos;
      int lo, hi;
      if (dtype == DType::kQ4_0) { neg = 8; pos = 7; lo = -8; hi = 7; }
      else if (dtype == DType::kQ5_0) { neg = 16; pos = 15; lo = -16; hi = 15; }
      else if (dtype == DType::kQ8_0) { neg = 127; pos = 127; lo = -127; hi = 127; }
      else { neg = 127; pos = 113; lo = 0; hi = 15; }
      b.d = HalfUp(static_cast<float>(std::max(-st.lo / neg, st.hi / pos)));
      for (int e = 0; e < 32; ++e) {
        if (dtype == DType::kIQ4_NL) {
          b.q.push_back(b.d > 0 ? NearestGrid(x[e] / b.d) : 8);
        } else {
          b.q.push_back(b.d > 0 ? RoundClamp(x[e] / b.d, lo, hi) : 0);
        }
      }
      return b;
    }
    case DType::kQ4_1:
    case DType::kQ5_1: {
      const int levels = dtype == DType::kQ4_1 ? 15 : 31;
      const SubStats st = Stats(x, 32);
      // Round the min down in f16 so every value stays at or above it.
      uint16_t mh = indexer::FloatToF16(st.lo);
      if (indexer::F16ToFloat(mh) > st.lo) mh = st.lo < 0 ? mh + 1 : mh - 1;
      b.m = indexer::F16ToFloat(mh);
      b.d = HalfUp((st.hi - b.m) / static_cast<float>(levels));
      for (int e = 0; e < 32; ++e) {
        b.q.push_back(b.d > 0 ? RoundClamp((x[e] - b.m) / b.d, 0, levels) : 0);
      }
      return b;
    }
    case DType::kQ8_K: {
      float amax = 0;
      for (int e = 0; e < 256; ++e) amax = std::max(amax, std::fabs(x[e]));
      b.d = amax / 127.0f;
      for (int e = 0; e < 256; ++e) b.q.push_back(b.d > 0 ? RoundClamp(x[e] / b.d, -127, 127) : 0);
      return b;
    }
    case DType::kQ2_K: return QuantizeWithMins(x, 16, 3, 15);
    case DType::kQ4_K: return QuantizeWithMins(x, 32, 15, 63);
    case DType::kQ5_K: return QuantizeWithMins(x, 32, 31, 63);
    case DType::kQ3_K: return QuantizeSymmetric(x, 16, 4, 3, 31, false, -4, 3);
    case DType::kQ6_K: return QuantizeSymmetric(x, 16, 32, 31, 127, false, -32, 31);
    case DType::kIQ4_XS: return QuantizeSymmetric(x, 32, 127, 113, 31, true, 0, 15);
    default: return b;
  }
}

}  // namespace

std::string PackBlock(DType dtype, const LogicalBlock& b) {
  std::string out(indexer::DTypeSize(dtype), '\0');
  switch (dtype) {
    case DType::kQ4_0:
    case DType::kIQ4_NL:
      PutHalf(out, 0, b.d);
      for (int j = 0; j < 16; ++j) {
        const int off = dtype == DType::kQ4_0 ? 8 : 0;
        out[2 + j] = static_cast<char>((b.q[j] + off) | ((b.q[j + 16] + off) << 4));
      }
      break;
    case DType::kQ4_1:
      PutHalf(out, 0, b.d);
      PutHalf(out, 2, b.m);
      for (int j = 0; j < 16; ++j) out[4 + j] = static_cast<char>(b.q[j] | (b.q[j + 16] << 4));
      break;
    case DType::kQ5_0:
    case DType::kQ5_1: {
      const bool with_min = dtype == DType::kQ5_1;
      const int off = with_min ? 0 : 16;
      PutHalf(out, 0, b.d);
      if (with_min) PutHalf(out, 2, b.m);
      const size_t qh_at = with_min ? 4 : 2;
      const size_t qs_at = qh_at + 4;
      for (int e = 0; e < 32; ++e) {
        const int v = b.q[e] + off;  // 0..31
        if (v & 16) SetBits(out, qh_at + e / 8, e % 8, 1);  // bit e of the LE u32
        SetBits(out, qs_at + e % 16, e < 16 ? 0 : 4, v & 0x0F);
      }
      break;
    }
    case DType::kQ8_0:
      PutHalf(out, 0, b.d);
      for (int e = 0; e < 32; ++e) out[2 + e] = static_cast<char>(static_cast<int8_t>(b.q[e]));
      break;
    case DType::kQ2_K:
      for (int s = 0; s < 16; ++s) out[s] = static_cast<char>(b.scales[s] | (b.mins[s] << 4));
      for (int e = 0; e < 256; ++e) {
        SetBits(out, 16 + (e / 128) * 32 + e % 32, 2 * ((e % 128) / 32), b.q[e]);
      }
      PutHalf(out, 80, b.d);
      PutHalf(out, 82, b.m);
      break;
    case DType::kQ3_K:
      for (int e = 0; e < 256; ++e) {
        const int v = b.q[e] + 4;  // 0..7: bit 2 is the hmask bit
        if (v & 4) SetBits(out, e % 32, e / 32, 1);
        SetBits(out, 32 + (e / 128) * 32 + e % 32, 2 * ((e % 128) / 32), v & 3);
      }
      for (int i = 0; i < 16; ++i) {
        const int v = b.scales[i] + 32;  // 6 bits
        SetBits(out, 96 + (i < 8 ? i : i - 8), i < 8 ? 0 : 4, v & 0x0F);
        SetBits(out, 96 + 8 + i % 4, 2 * (i / 4), v >> 4);
      }
      PutHalf(out, 108, b.d);
      break;
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool five = dtype == DType::kQ5_K;
      PutHalf(out, 0, b.d);
      PutHalf(out, 2, b.m);
      PackScalesK4(out, 4, b.scales, b.mins);
      const size_t qs_at = five ? 48 : 16;
      for (int e = 0; e < 256; ++e) {
        const int w = e % 64;
        SetBits(out, qs_at + (e / 64) * 32 + w % 32, w < 32 ? 0 : 4, b.q[e] & 0x0F);
        if (five && (b.q[e] & 16)) SetBits(out, 16 + e % 32, e / 32, 1);
      }
      break;
    }
    case DType::kQ6_K:
      for (int e = 0; e < 256; ++e) {
        const int v = b.q[e] + 32;  // 6 bits
        const int n = e / 128, k = (e % 128) / 32, l = e % 32;
        SetBits(out, n * 64 + (k % 2) * 32 + l, k < 2 ? 0 : 4, v & 0x0F);
        SetBits(out, 128 + n * 32 + l, 2 * k, v >> 4);
      }
      for (int s = 0; s < 16; ++s) out[192 + s] = static_cast<char>(static_cast<int8_t>(b.scales[s]));
      PutHalf(out, 208, b.d);
      break;
    case DType::kQ8_K: {
      std::memcpy(out.data(), &b.d, 4);
      for (int e = 0; e < 256; ++e) out[4 + e] = static_cast<char>(static_cast<int8_t>(b.q[e]));
      for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int e = 0; e < 16; ++e) sum += b.q[16 * g + e];
        const int16_t s16 = static_cast<int16_t>(sum);
        std::memcpy(out.data() + 260 + 2 * g, &s16, 2);
      }
      break;
    }
    case DType::kIQ4_XS: {
      PutHalf(out, 0, b.d);
      uint16_t high = 0;
      for (int ib = 0; ib < 8; ++ib) {
        const int v = b.scales[ib] + 32;
        SetBits(out, 4 + ib / 2, 4 * (ib % 2), v & 0x0F);
        high = static_cast<uint16_t>(high | ((v >> 4) << (2 * ib)));
      }
      out[2] = static_cast<char>(high & 0xFF);
      out[3] = static_cast<char>(high >> 8);
      for (int e = 0; e < 256; ++e) {
        const int ib = e / 32, w = e % 32;
        SetBits(out, 8 + ib * 16 + w % 16, w < 16 ? 0 : 4, b.q[e]);
      }
      break;
    }
    default:
      break;
  }
  return out;
}

float BlockValue(DType dtype, const LogicalBlock& b, int e) {
  auto f = [](int v) { return static_cast<float>(v); };
  switch (dtype) {
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ8_0:
      return f(b.q[e]) * b.d;
    case DType::kQ4_1:
    case DType::kQ5_1:
      return f(b.q[e]) * b.d + b.m;
    case DType::kQ8_K:
      return b.d * f(b.q[e]);
    case DType::kIQ4_NL:
      return b.d * f(kTestIq4Grid[b.q[e]]);
    case DType::kQ2_K:
      return (b.d * f(b.scales[e / 16])) * f(b.q[e]) - b.m * f(b.mins[e / 16]);
    case DType::kQ3_K:
      return (b.d * f(b.scales[e / 16])) * f(b.q[e]);
    case DType::kQ4_K:
    case DType::kQ5_K:
      return (b.d * f(b.scales[e / 32])) * f(b.q[e]) - b.m * f(b.mins[e / 32]);
    case DType::kQ6_K:
      return b.d * f(b.scales[e / 16]) * f(b.q[e]);
    case DType::kIQ4_XS:
      return (b.d * f(b.scales[e / 32])) * f(kTestIq4Grid[b.q[e]]);
    default:
      return 0;
  }
}

std::string Quantize(DType dtype, const std::vector<float>& values) {
  const size_t n = indexer::DTypeBlockElements(dtype);
  std::string out;
  for (size_t i = 0; i + n <= values.size(); i += n) {
    out += PackBlock(dtype, QuantizeBlock(dtype, values.data() + i));
  }
  return out;
}

double QuantizationBound(DType dtype, double amax) {
  // Half a step of the coarsest sub-block, with the rounding-up of scales (see the header).
  double fraction = 0;
  switch (dtype) {
    case DType::kQ8_0: fraction = 0.5 / 127; break;
    case DType::kQ8_K: fraction = 0.5 / 127; break;
    case DType::kQ4_0: fraction = 0.5 / 7; break;
    case DType::kQ5_0: fraction = 0.5 / 15; break;
    case DType::kQ4_1: fraction = 1.0 / 15; break;
    case DType::kQ5_1: fraction = 1.0 / 31; break;
    case DType::kIQ4_NL: fraction = 12.0 / 113; break;  // widest grid gap: 89 to 113
    case DType::kQ2_K: fraction = 0.5 * (2 + 1.0 / 15) / 3 * (1 + 1.0 / 15); break;
    case DType::kQ3_K: fraction = 0.5 / 3 * (1 + 1.0 / 31); break;
    case DType::kQ4_K: fraction = 0.5 * (2 + 1.0 / 63) / 15 * (1 + 1.0 / 63); break;
    case DType::kQ5_K: fraction = 0.5 * (2 + 1.0 / 63) / 31 * (1 + 1.0 / 63); break;
    case DType::kQ6_K: fraction = 0.5 / 31 * (1 + 1.0 / 127); break;
    case DType::kIQ4_XS: fraction = 12.0 / 113 * (1 + 1.0 / 31); break;
    default: break;
  }
  return amax * fraction * 1.01 + 1e-7;  // 1%: f16 rounding of the scales
}

}  // namespace weightprint::testing
