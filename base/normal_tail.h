// Normal-distribution tail probabilities in log space, so that the very small p-values of
// strong evidence (1e-300 and beyond) neither underflow nor lose their order. Shared by the
// verdicts (which compute z and p) and the report printers (which show the clamp). Pure
// functions; thread-safe.
#ifndef WEIGHTPRINT_BASE_NORMAL_TAIL_H_
#define WEIGHTPRINT_BASE_NORMAL_TAIL_H_

namespace weightprint::base {

// log P(Z > z) for a standard normal Z. Accurate for every finite z.
double LogUpperTail(double z);

// The z with LogUpperTail(z) == log_p, for log_p <= 0. Returns +inf for log_p = -inf.
double UpperTailInverse(double log_p);

// The lowest z reported. P(Z > -8) = 1 - 6e-16 is indistinguishable from 1 in a double, so
// every p-value that rounds to 1 maps to it; printers show it as "z < -8".
inline constexpr double kMinDeviate = -8.0;

// UpperTailInverse clamped below at kMinDeviate: finite for every log_p in (-inf, 0], so an
// unrelated candidate (p = 1) gets z = -8 rather than -inf.
double ClampedDeviate(double log_p);

// log of the binomial coefficient C(n, k).
double LogChoose(double n, double k);

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_NORMAL_TAIL_H_
