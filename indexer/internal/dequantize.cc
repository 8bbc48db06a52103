#include "indexer/internal/dequantize.h"

#include <cstring>

#include "base/half_float.h"

namespace weightprint::indexer::internal {

using base::DecodeF16;
namespace {

// Every block starts at an arbitrary byte address inside a mapped file, so multi-byte fields
// are loaded with memcpy (little-endian host, asserted in dtype.cc).
inline float LoadHalf(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, sizeof(bits));
  return DecodeF16(bits);
}

inline uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// ---- 32-element blocks ------------------------------------------------------------------------

// Q4_0 (18 bytes): d f16 | qs[16]. Element j takes the low nibble of qs[j], element j+16 the
// high nibble; quants are offset by 8.
void DecodeQ4_0(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

// Q4_1 (20 bytes): d f16 | m f16 | qs[16]; unsigned quants plus the min.
void DecodeQ4_1(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float m = LoadHalf(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5_0 (22 bytes): d f16 | qh u32 (bit j = fifth bit of element j) | qs[16]; offset by 16.
void DecodeQ5_0(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const uint32_t qh = LoadU32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int high0 = static_cast<int>(((qh >> j) << 4) & 0x10);
    const int high1 = static_cast<int>((qh >> (j + 12)) & 0x10);
    y[j] = static_cast<float>(((qs[j] & 0x0F) | high0) - 16) * d;
    y[j + 16] = static_cast<float>(((qs[j] >> 4) | high1) - 16) * d;
  }
}

// Q5_1 (24 bytes): d f16 | m f16 | qh u32 | qs[16]; unsigned quants plus the min.
void DecodeQ5_1(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float m = LoadHalf(b + 2);
  const uint32_t qh = LoadU32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int high0 = static_cast<int>(((qh >> j) << 4) & 0x10);
    const int high1 = static_cast<int>((qh >> (j + 12)) & 0x10);
    y[j] = static_cast<float>((qs[j] & 0x0F) | high0) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | high1) * d + m;
  }
}

// Q8_0 (34 bytes): d f16 | qs[32] int8.
void DecodeQ8_0(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// IQ4_NL (18 bytes): d f16 | qs[16], nibbles index the non-linear grid.
void DecodeIQ4_NL(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(kIq4NlGrid[qs[j] & 0x0F]);
    y[j + 16] = d * static_cast<float>(kIq4NlGrid[qs[j] >> 4]);
  }
}

// ---- 256-element super-blocks -----------------------------------------------------------------

// The 12-byte packing of eight 6-bit scales and eight 6-bit mins shared by Q4_K and Q5_K:
// sub-blocks 0..3 keep their low 6 bits in bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7
// keep their low 4 bits in the nibbles of bytes 8..11 and their top 2 bits in the top bits of
// bytes 0..7.
inline void ScaleMinK4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q2_K (84 bytes): scales[16] (low nibble scale, high nibble min) | qs[64] (2 bits each) |
// d f16 | dmin f16.
void DecodeQ2_K(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = LoadHalf(b + 80);
  const float dmin = LoadHalf(b + 82);
  int is = 0;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = scales[is++];
        const float dl = d * static_cast<float>(sc & 0x0F);
        const float ml = dmin * static_cast<float>(sc >> 4);
        const uint8_t* qq = q + 16 * half;
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>((qq[l] >> shift) & 3) - ml;
        }
      }
      shift += 2;
    }
    q += 32;
  }
}

// Q3_K (110 bytes): hmask[32] (third bit) | qs[64] (low 2 bits) | scales[12] (sixteen 6-bit
// scales, offset by 32) | d f16. A quant is (low 2 bits) - 4 unless its hmask bit is set.
void DecodeQ3_K(const uint8_t* b, float* y) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const uint8_t* packed = b + 96;
  const float d_all = LoadHalf(b + 108);
  // Unpack the 16 scales: the low 4 bits are the nibbles of bytes 0..7 (scale i < 8 in the low
  // nibble of byte i, scale i >= 8 in the high nibble of byte i - 8); the high 2 bits are in
  // bytes 8..11, two bits per scale (scale i in byte 8 + i % 4, bits 2 * (i / 4)).
  int8_t scales[16];
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? (packed[i] & 0x0F) : (packed[i - 8] >> 4);
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    scales[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        const float dl = d_all * static_cast<float>(scales[is++]);
        const uint8_t* qq = q + 16 * half;
        const uint8_t* hh = hm + 16 * half;
        for (int l = 0; l < 16; ++l) {
          const int value = static_cast<int>((qq[l] >> shift) & 3) - ((hh[l] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(value);
        }
      }
      shift += 2;
      m = static_cast<uint8_t>(m << 1);
    }
    q += 32;
  }
}

// Q4_K (144 bytes): d f16 | dmin f16 | scales[12] (6-bit, ScaleMinK4) | qs[128]. Each 64
// elements use one 32-byte run: low nibbles first (sub-block 2k), then high nibbles (2k+1).
void DecodeQ4_K(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float dmin = LoadHalf(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  int is = 0;
  for (int j = 0; j < 256; j += 64) {
    uint8_t sc, mn;
    ScaleMinK4(is, scales, &sc, &mn);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(mn);
    ScaleMinK4(is + 1, scales, &sc, &mn);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(mn);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

// Q5_K (176 bytes): d f16 | dmin f16 | scales[12] | qh[32] | qs[128]. As Q4_K, with a fifth bit
// for sub-block s in bit s of qh[l].
void DecodeQ5_K(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float dmin = LoadHalf(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  int is = 0;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 256; j += 64) {
    uint8_t sc, mn;
    ScaleMinK4(is, scales, &sc, &mn);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(mn);
    ScaleMinK4(is + 1, scales, &sc, &mn);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(mn);
    for (int l = 0; l < 32; ++l) {
      *y++ = d1 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
    ql += 32;
    is += 2;
    u1 = static_cast<uint8_t>(u1 << 2);
    u2 = static_cast<uint8_t>(u2 << 2);
  }
}

// Q6_K (210 bytes): ql[128] (low 4 bits) | qh[64] (high 2 bits) | scales[16] int8 | d f16.
// Quants are offset by 32; each 16 elements share one scale.
void DecodeQ6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = LoadHalf(b + 208);
  for (int n = 0; n < 256; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// Q8_K (292 bytes): d f32 | qs[256] int8 | bsums[16] int16 (sums for dot products; unused).
void DecodeQ8_K(const uint8_t* b, float* y) {
  float d;
  std::memcpy(&d, b, sizeof(d));
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 4);
  for (int j = 0; j < 256; ++j) y[j] = d * static_cast<float>(qs[j]);
}

// IQ4_XS (136 bytes): d f16 | scales_h u16 | scales_l[4] | qs[128]. Sub-block i (32 elements)
// has a 6-bit scale: low 4 bits in nibble i % 2 of scales_l[i / 2], high 2 bits at bit 2i of
// scales_h; offset by 32. Nibbles index the non-linear grid as in IQ4_NL.
void DecodeIQ4_XS(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const uint16_t scales_h = static_cast<uint16_t>(b[2] | (b[3] << 8));
  const uint8_t* scales_l = b + 4;
  const uint8_t* qs = b + 8;
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((scales_h >> (2 * ib)) & 3) << 4);
    const float dl = d * static_cast<float>(ls - 32);
    for (int j = 0; j < 16; ++j) {
      y[j] = dl * static_cast<float>(kIq4NlGrid[qs[j] & 0x0F]);
      y[j + 16] = dl * static_cast<float>(kIq4NlGrid[qs[j] >> 4]);
    }
    y += 32;
    qs += 16;
  }
}

using BlockDecoder = void (*)(const uint8_t*, float*);

BlockDecoder DecoderFor(DType dtype) {
  switch (dtype) {
    case DType::kQ4_0: return DecodeQ4_0;
    case DType::kQ4_1: return DecodeQ4_1;
    case DType::kQ5_0: return DecodeQ5_0;
    case DType::kQ5_1: return DecodeQ5_1;
    case DType::kQ8_0: return DecodeQ8_0;
    case DType::kQ2_K: return DecodeQ2_K;
    case DType::kQ3_K: return DecodeQ3_K;
    case DType::kQ4_K: return DecodeQ4_K;
    case DType::kQ5_K: return DecodeQ5_K;
    case DType::kQ6_K: return DecodeQ6_K;
    case DType::kQ8_K: return DecodeQ8_K;
    case DType::kIQ4_NL: return DecodeIQ4_NL;
    case DType::kIQ4_XS: return DecodeIQ4_XS;
    default: return nullptr;
  }
}

}  // namespace

void DequantizeBlocks(DType dtype, const std::byte* src, size_t blocks, float* dst) {
  const BlockDecoder decode = DecoderFor(dtype);
  const size_t block_bytes = DTypeSize(dtype);
  const size_t block_elements = DTypeBlockElements(dtype);
  if (decode == nullptr) {
    // Not a block type (only reachable through a contract violation): zeros, never a read.
    for (size_t i = 0; i < blocks * block_elements; ++i) dst[i] = 0.0f;
    return;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(src);
  for (size_t i = 0; i < blocks; ++i) {
    decode(p + i * block_bytes, dst + i * block_elements);
  }
}

}  // namespace weightprint::indexer::internal
