// id_block.hpp: a block written out equals its ids one by one, for progressions and for
// snowflake ids that run across ticks (every width of sequence, the first id anywhere in its
// tick); every counter's next_block(n) is what next_many(n) writes, and holding a block changes
// nothing in the counter.
#include <atomic_counter/counter.hpp>
#include <atomic_counter/id_block.hpp>
#include <atomic_counter/layout.hpp>
#include <atomic_counter/snowflake_counter.hpp>
#include <atomic_counter/time_counter.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ac = atomic_counter;

namespace {

constexpr std::uint64_t sentinel = 0x5a5a5a5a5a5a5a5aULL;

// Writes the block between two sentinels and checks both, the size and every id.
void expect_written(ac::id_block const& block, std::vector<std::uint64_t> const& expected) {
    ASSERT_EQ(block.size(), expected.size());
    std::vector<std::uint64_t> out(expected.size() + 2, sentinel);
    block.write(out.data() + 1);
    ASSERT_EQ(out.front(), sentinel);
    ASSERT_EQ(out.back(), sentinel);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        ASSERT_EQ(out[i + 1], expected[i]) << "i=" << i;
        ASSERT_EQ(block[i], expected[i]) << "i=" << i;
    }
    if (!expected.empty()) {
        EXPECT_EQ(block.back(), expected.back());
    }
}

}  // namespace

TEST(IdBlock, EmptyWritesNothing) {
    const ac::id_block block;
    EXPECT_TRUE(block.empty());
    expect_written(block, {});
    expect_written(ac::id_block::progression(5, 3, 0), {});
    expect_written(ac::id_block::on_node(5, 0, 12, 10, 3), {});
}

TEST(IdBlock, ProgressionIsFirstPlusIStep) {
    for (std::size_t n : {1u, 2u, 7u, 8u, 9u, 100u, 4097u}) {
        for (std::uint64_t step : {std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{1} << 40}) {
            std::vector<std::uint64_t> expected(n);
            for (std::size_t i = 0; i < n; ++i) {
                expected[i] = 1000 + i * step;
            }
            expect_written(ac::id_block::progression(1000, step, n), expected);
        }
    }
}

// Snowflake blocks: the compressed values first .. first + n - 1 expanded on the node, written
// as runs of one tick each; every split of a tick (the first id at its start, middle or last
// sequence) and sequences of 0, 1, 6 and 12 bits.
TEST(IdBlock, OnNodeEqualsExpandingEveryValue) {
    struct widths {
        unsigned time, node, sequence;
    };
    for (widths w : {widths{41, 10, 12}, widths{41, 6, 6}, widths{50, 13, 0}, widths{59, 3, 1}}) {
        const ac::layout l(0, 1000000, w.time, w.node, w.sequence, true);
        const std::uint64_t node = l.max_node() / 2 + 1;
        const std::uint64_t tick = std::uint64_t{1} << w.sequence;
        for (std::uint64_t first : {std::uint64_t{5} * tick, 5 * tick + tick / 2, 6 * tick - 1}) {
            for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{tick},
                                  std::size_t{tick + 1}, std::size_t{3 * tick + 5}}) {
                std::vector<std::uint64_t> expected(n);
                for (std::size_t i = 0; i < n; ++i) {
                    expected[i] = l.expand(first + i, node);
                }
                SCOPED_TRACE(::testing::Message()
                             << "sequence_bits=" << w.sequence << " first=" << first << " n=" << n);
                expect_written(
                    ac::id_block::on_node(first, n, l.sequence_bits(), l.node_bits(), node),
                    expected);
            }
        }
    }
}

TEST(IdBlock, NextBlockIsWhatNextManyWritesAndHoldsNothing) {
    ac::counter a(0, 10, 3), b(0, 10, 3);
    const ac::id_block block = a.next_block(1000);
    EXPECT_EQ(a.current(), 10u + 3000u);  // reserved by the one step
    std::vector<std::uint64_t> written(1000), drawn(1000);
    block.write(written.data());
    b.next_many(drawn.data(), drawn.size());
    EXPECT_EQ(written, drawn);
    EXPECT_EQ(a.next(), b.next());
    EXPECT_TRUE(a.next_block(0).empty());
    EXPECT_EQ(a.current(), b.current());

    ac::manual_clock clock(1700000000000000000ULL);
    ac::basic_time_counter<ac::manual_clock> t(clock), u(clock);
    const ac::id_block ids = t.next_block(5000);  // borrows a microsecond
    std::vector<std::uint64_t> from_block(5000), from_many(5000);
    ids.write(from_block.data());
    u.next_many(from_many.data(), from_many.size());
    EXPECT_EQ(from_block, from_many);
    EXPECT_EQ(t.current(), from_block.back());

    const ac::layout twitter = ac::layout::twitter();
    ac::basic_snowflake_counter<ac::manual_clock> s(twitter, 7, 0, clock), r(twitter, 7, 0, clock);
    const ac::id_block flakes = s.next_block(9000);  // three ticks' sequences
    std::vector<std::uint64_t> snow_block(9000), snow_many(9000);
    flakes.write(snow_block.data());
    r.next_many(snow_many.data(), snow_many.size());
    EXPECT_EQ(snow_block, snow_many);
    EXPECT_EQ(s.current(), snow_block.back());
    for (std::size_t i = 1; i < snow_block.size(); ++i) {
        ASSERT_GT(snow_block[i], snow_block[i - 1]);
        ASSERT_EQ(twitter.node_of(snow_block[i]), 7u);
    }
}
