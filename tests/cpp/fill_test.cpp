// detail/fill.hpp: the vectorized fill of a next_many() block against the plain loop, for every
// length around the vector width and steps from 1 to above 2^63, wrapping included.
#include <atomic_counter/detail/fill.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ac = atomic_counter;

TEST(Fill, EveryLengthAndStepMatchesThePlainLoop) {
    constexpr std::uint64_t sentinel = 0x5a5a5a5a5a5a5a5aULL;
    const std::uint64_t steps[] = {1,
                                   2,
                                   3,
                                   1000,
                                   std::uint64_t{1} << 31,
                                   std::uint64_t{1} << 40,
                                   (std::uint64_t{1} << 63) + 1,
                                   ~std::uint64_t{0}};
    const std::uint64_t firsts[] = {0, 7, 2048, ~std::uint64_t{0} - 5};
    for (std::size_t n = 0; n <= 70; ++n) {
        for (std::uint64_t step : steps) {
            for (std::uint64_t first : firsts) {
                // One slot before and after the block: the fill touches neither.
                std::vector<std::uint64_t> out(n + 2, sentinel);
                ac::detail::fill_progression(out.data() + 1, n, first, step);
                ASSERT_EQ(out.front(), sentinel);
                ASSERT_EQ(out.back(), sentinel) << "n=" << n;
                std::uint64_t expected = first;
                for (std::size_t i = 0; i < n; ++i) {
                    ASSERT_EQ(out[i + 1], expected) << "n=" << n << " i=" << i << " step=" << step;
                    expected += step;
                }
            }
        }
    }
}

TEST(Fill, ALargeBlockIsConsecutive) {
    std::vector<std::uint64_t> out(1'000'003);
    ac::detail::fill_progression(out.data(), out.size(), 217'808'073'997'074'796ULL, 1);
    for (std::size_t i = 1; i < out.size(); ++i) {
        ASSERT_EQ(out[i], out[i - 1] + 1) << i;
    }
}
