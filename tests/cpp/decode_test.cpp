// detail/decode.hpp: the columns of decode_many's whole-microsecond loop against the plain
// arithmetic, for every length around the vector widths and fields of every width; built twice,
// as it runs here (AVX2 where the CPU has it) and with ATOMIC_COUNTER_DECODE_PORTABLE.
#include <atomic_counter/detail/decode.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ac = atomic_counter;

TEST(DecodeColumns, EveryLengthMatchesThePlainArithmetic) {
    constexpr std::uint64_t sentinel = 0x5a5a5a5a5a5a5a5aULL;
    struct fields {
        unsigned node_bits, sequence_bits;
        std::uint64_t us_per_tick, base_us;
    };
    for (fields f : {fields{10, 12, 1000, 1704067200000000ULL}, fields{0, 12, 1, 0},
                     fields{6, 6, 1000000, 3}, fields{0, 0, 10000, 1}}) {
        const unsigned shift = f.node_bits + f.sequence_bits;
        const ac::detail::column_decoder d{shift,
                                           f.sequence_bits,
                                           (std::uint64_t{1} << f.node_bits) - 1,
                                           (std::uint64_t{1} << f.sequence_bits) - 1,
                                           f.us_per_tick,
                                           f.base_us};
        for (std::size_t n = 0; n <= 40; ++n) {
            std::vector<std::uint64_t> ids(n);
            for (std::size_t i = 0; i < n; ++i) {
                ids[i] = (0x9E3779B97F4A7C15ULL * (i + 1)) >> (64 - 40 + 1);  // 39-bit ids
            }
            // One slot before and after each column: the loop touches neither.
            std::vector<std::int64_t> us(n + 2, static_cast<std::int64_t>(sentinel));
            std::vector<std::uint64_t> nodes(n + 2, sentinel), sequences(n + 2, sentinel);
            ac::detail::decode_columns(d, ids.data(), n, us.data() + 1, nodes.data() + 1,
                                       sequences.data() + 1);
            ASSERT_EQ(static_cast<std::uint64_t>(us.front()), sentinel);
            ASSERT_EQ(static_cast<std::uint64_t>(us.back()), sentinel);
            ASSERT_EQ(nodes.front(), sentinel);
            ASSERT_EQ(nodes.back(), sentinel);
            ASSERT_EQ(sequences.front(), sentinel);
            ASSERT_EQ(sequences.back(), sentinel);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t id = ids[i];
                ASSERT_EQ(static_cast<std::uint64_t>(us[i + 1]),
                          (id >> shift) * f.us_per_tick + f.base_us)
                    << "n=" << n << " i=" << i;
                ASSERT_EQ(nodes[i + 1], (id >> f.sequence_bits) & d.node_mask);
                ASSERT_EQ(sequences[i + 1], id & d.sequence_mask);
            }
        }
    }
}
