// atomic_counter/detail/fill.hpp: writes the arithmetic progression first, first + step, ... into
// a block of ids, which is what every next_many() hands out once its one atomic step has reserved
// the block.
//
// Why not a plain loop: `out[i] = first + i * step` vectorizes into one chain of vector adds,
// which runs at a third of the speed at which memory takes stores (docs/benchmarks.md: 0.25 ms
// against 0.06 ms for a memset of 8 MB). Splitting it into independent chains by hand is what
// GCC 12.2 miscompiles at -O3 (the lanes of an unrolled induction come out repeated: 10 13 10 13
// for 10 13 16 19); so the chains are written with SSE2 or NEON intrinsics, which the loop
// vectorizer leaves alone, and tests/cpp/fill_test.cpp checks every length and step against the
// plain loop on each compiler. Arithmetic is modulo 2^64 everywhere, as the plain loop's; the
// callers never let a block pass 2^64 - 1.
#ifndef ATOMIC_COUNTER_DETAIL_FILL_HPP
#define ATOMIC_COUNTER_DETAIL_FILL_HPP

#include <cstddef>
#include <cstdint>

// ATOMIC_COUNTER_FILL_PORTABLE selects the plain C++ path anywhere (its test defines it).
#if defined(ATOMIC_COUNTER_FILL_PORTABLE)
#elif defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define ATOMIC_COUNTER_FILL_SSE2 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>
#define ATOMIC_COUNTER_FILL_NEON 1
#endif

namespace atomic_counter::detail {

// out[i] = first + i * step for i in [0, n), modulo 2^64.
inline void fill_progression(std::uint64_t* out, std::size_t n, std::uint64_t first,
                             std::uint64_t step) noexcept {
    // Whole groups of eight by the vector chains, then the rest (at most seven) one by one.
    const std::size_t groups = n / 8;
    const std::uint64_t second = first + step, two_steps = 2 * step, eight_steps = 8 * step;
#if defined(ATOMIC_COUNTER_FILL_SSE2)
    // Four chains of two lanes, ids (0, 1) (2, 3) (4, 5) (6, 7) of each group, each + 8 steps.
    // The lanes are signed in SSE2's signature only: the adds are modulo 2^64 either way.
    const __m128i two = _mm_set1_epi64x(static_cast<long long>(two_steps));
    const __m128i eight = _mm_set1_epi64x(static_cast<long long>(eight_steps));
    __m128i a = _mm_set_epi64x(static_cast<long long>(second),  // high lane, low lane
                               static_cast<long long>(first));
    __m128i b = _mm_add_epi64(a, two);
    __m128i c = _mm_add_epi64(b, two);
    __m128i d = _mm_add_epi64(c, two);
    for (std::size_t g = 0; g < groups; ++g, out += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), a);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2), b);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4), c);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 6), d);
        a = _mm_add_epi64(a, eight);
        b = _mm_add_epi64(b, eight);
        c = _mm_add_epi64(c, eight);
        d = _mm_add_epi64(d, eight);
    }
#elif defined(ATOMIC_COUNTER_FILL_NEON)
    const uint64x2_t two = vdupq_n_u64(two_steps);
    const uint64x2_t eight = vdupq_n_u64(eight_steps);
    const std::uint64_t start[2] = {first, second};
    uint64x2_t a = vld1q_u64(start);
    uint64x2_t b = vaddq_u64(a, two);
    uint64x2_t c = vaddq_u64(b, two);
    uint64x2_t d = vaddq_u64(c, two);
    for (std::size_t g = 0; g < groups; ++g, out += 8) {
        vst1q_u64(out, a);
        vst1q_u64(out + 2, b);
        vst1q_u64(out + 4, c);
        vst1q_u64(out + 6, d);
        a = vaddq_u64(a, eight);
        b = vaddq_u64(b, eight);
        c = vaddq_u64(c, eight);
        d = vaddq_u64(d, eight);
    }
#else
    (void)second;
    (void)two_steps;
    for (std::size_t g = 0; g < groups; ++g, out += 8) {
        for (std::size_t k = 0; k < 8; ++k) {
            out[k] = first + (g * 8 + k) * step;
        }
    }
#endif
    std::uint64_t v = first + groups * eight_steps;
    const std::size_t rest = n % 8;
    for (std::size_t k = 0; k < rest; ++k, v += step) {
        out[k] = v;
    }
}

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_FILL_HPP
