// Block conversions from float to the 16-bit formats, as the fingerprint's cast hashes define
// them (docs/FINGERPRINT.md, "Decoding"): round to nearest even, subnormals kept, overflow to
// infinity, every NaN to one canonical quiet NaN.
//
// The portable versions are the definition. FloatsToF16 uses the CPU's conversion instruction
// (F16C) when it has one and the block holds no NaN or infinity: the instruction rounds the
// same way but keeps a NaN's sign and payload, which the definition does not. Tests check the
// two paths agree bit for bit.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_HALF_BLOCK_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_HALF_BLOCK_H_

#include <cstddef>
#include <cstdint>

namespace weightprint::indexer::internal {

void FloatsToBF16(const float* x, size_t n, uint16_t* out);
void FloatsToF16Portable(const float* x, size_t n, uint16_t* out);

// REQUIRES: every x[i] finite when `all_finite` is true.
void FloatsToF16(const float* x, size_t n, bool all_finite, uint16_t* out);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_HALF_BLOCK_H_
