#include <atomic_counter/snowflake_counter.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ac = atomic_counter;
using fake_counter = ac::basic_snowflake_counter<ac::manual_clock>;

namespace {
const ac::layout twitter = ac::layout::twitter();
// 2026-11-26T03:10:17.814Z in ns, and in Twitter ticks (ms since its epoch).
constexpr std::uint64_t t0_ns = 1795662617814000000ULL;
constexpr std::uint64_t t0_ticks = 1795662617814ULL - 1288834974657ULL;
}  // namespace

TEST(SnowflakeCounter, FollowsTheClockWithTheNodeInTheMiddle) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 5, 0, clock);
    EXPECT_EQ(c.node(), 5u);
    EXPECT_EQ(c.next(), twitter.pack(t0_ticks, 5, 1));
    EXPECT_EQ(c.next(), twitter.pack(t0_ticks, 5, 2));
    clock.advance_ns(3000000);
    EXPECT_EQ(c.next(), twitter.pack(t0_ticks + 3, 5, 0));
}

TEST(SnowflakeCounter, ASequenceOverflowBorrowsTheNextTickNotTheNode) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 1023, 0, clock);
    std::uint64_t last = c.current();
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t id = c.next();
        ASSERT_GT(id, last);
        ASSERT_EQ(twitter.decode(id).node, 1023u);
        last = id;
    }
    EXPECT_EQ(twitter.decode(last).ticks, t0_ticks + 10000 / 4096);
    EXPECT_EQ(twitter.decode(last).sequence, 10000u % 4096);
    EXPECT_EQ(c.lead_ns(), 2u * 1000000);
}

TEST(SnowflakeCounter, ClockStepBackNeverGoesBack) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 3, 0, clock);
    const std::uint64_t before = c.next();
    clock.rewind_ns(5000000000ULL);
    const std::uint64_t after = c.next();
    EXPECT_EQ(after, before + 1);
    EXPECT_GT(c.lead_ns(), 4900000000ULL);
}

TEST(SnowflakeCounter, NodeOutOfRangeNamesTheRange) {
    try {
        ac::snowflake_counter c(twitter, 1024);
        ADD_FAILURE();
    } catch (std::invalid_argument const& e) {
        EXPECT_STREQ(e.what(),
                     "atomic_counter::snowflake_counter: node must be in [0, 1023] for this "
                     "layout, got 1024");
    }
}

TEST(SnowflakeCounter, FloorStartsAboveThePreviousHolder) {
    ac::manual_clock clock(t0_ns);
    const std::uint64_t floor = twitter.pack(t0_ticks + 50, 7, 99);  // a holder ahead of us
    fake_counter c(twitter, 7, floor, clock);
    EXPECT_EQ(c.next(), floor + 1);
}

TEST(SnowflakeCounter, NextManyCarriesAcrossTicks) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 9, 0, clock);
    std::vector<std::uint64_t> out(5000);
    c.next_many(out.data(), out.size());
    for (std::size_t i = 1; i < out.size(); ++i) {
        ASSERT_GT(out[i], out[i - 1]);
        ASSERT_EQ(twitter.decode(out[i]).node, 9u);
    }
    EXPECT_EQ(twitter.decode(out.back()).ticks, t0_ticks + 1);
    EXPECT_EQ(c.current(), out.back());
}

TEST(SnowflakeCounter, LeaseDeadlineAndHighWaterMark) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 2, 0, clock);
    EXPECT_NO_THROW(c.next());
    c.revoke();
    EXPECT_THROW(c.next(), ac::lease_expired);
    const std::uint64_t last = c.current();
    c.extend(ac::detail::monotonic_ns() + 60000000000ULL, last + 3);
    EXPECT_EQ(c.next(), last + 1);
    std::vector<std::uint64_t> out(3);
    EXPECT_THROW(c.next_many(out.data(), 3), ac::lease_expired);  // would pass last + 3
    EXPECT_EQ(c.next(), last + 2);
    EXPECT_EQ(c.next(), last + 3);
    EXPECT_THROW(c.next(), ac::lease_expired);
    EXPECT_EQ(c.current(), last + 3);
    c.extend(ac::detail::monotonic_ns() - 1, ~std::uint64_t{0});  // deadline passed
    EXPECT_THROW(c.next(), ac::lease_expired);
}

TEST(SnowflakeCounter, TheLeadLimitCapsHowFarIdsRunAheadOfTheClock) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 5, 0, clock);
    c.limit_lead(2000000);  // 2 ms: this tick and the next two
    EXPECT_EQ(c.max_block(), 3u * 4096u);
    std::vector<std::uint64_t> out(3 * 4096);
    c.next_many(out.data(), 3 * 4096 - 2);  // from sequence 1 of t0: all but t0 + 2's last id
    EXPECT_EQ(twitter.decode(c.next()).ticks, t0_ticks + 2);
    try {
        c.next();
        ADD_FAILURE() << "ran past the lead limit";
    } catch (ac::lease_expired const& e) {
        EXPECT_NE(std::string(e.what()).find("past the lease's lead limit of 2 ms"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(c.current(), twitter.pack(t0_ticks + 2, 5, 4095));  // refused, kept
    clock.advance_ns(1000000);                              // one tick later, one more tick of room
    EXPECT_EQ(c.next(), twitter.pack(t0_ticks + 3, 5, 0));  // the sequence carries a tick
    // A block that could never fit is a caller's mistake, not a wait.
    std::vector<std::uint64_t> big(3 * 4096 + 1);
    EXPECT_THROW(c.next_many(big.data(), big.size()), std::invalid_argument);
    // A clock stepped back a second: nothing until it catches up.
    clock.rewind_ns(1000000000ULL);
    EXPECT_THROW(c.next(), ac::lease_expired);
    clock.advance_ns(1000000000ULL);
    EXPECT_GT(c.next(), twitter.pack(t0_ticks + 3, 5, 0));
}

TEST(SnowflakeCounter, SealReturnsAnIdAboveEveryIdHandedOut) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 6, 0, clock);
    const std::uint64_t last = c.next();
    const std::uint64_t sealed = c.seal();
    EXPECT_EQ(sealed, last + 1);
    EXPECT_THROW(c.next(), ac::lease_expired);
    std::vector<std::uint64_t> out(2);
    EXPECT_THROW(c.next_many(out.data(), 2), ac::lease_expired);
    EXPECT_EQ(c.current(), sealed);
}

TEST(SnowflakeCounter, SealIsOrderedWithDrawsInOtherThreads) {
    for (int round = 0; round < 200; ++round) {
        ac::snowflake_counter c(twitter, 7);
        c.extend(ac::detail::monotonic_ns() + 60000000000ULL, ~std::uint64_t{0});
        std::atomic<bool> go{false};
        std::vector<std::vector<std::uint64_t>> drawn(3);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < drawn.size(); ++t) {
            threads.emplace_back([&, t] {
                while (!go.load()) {
                }
                try {
                    for (;;) {
                        drawn[t].push_back(c.next());
                    }
                } catch (ac::lease_expired const&) {
                }
            });
        }
        go.store(true);
        std::this_thread::yield();
        const std::uint64_t sealed = c.seal();
        for (auto& t : threads) {
            t.join();
        }
        for (auto const& run : drawn) {
            for (std::uint64_t id : run) {
                ASSERT_LT(id, sealed) << "round " << round;
            }
        }
    }
}

TEST(SnowflakeCounter, RebindMovesAboveEverythingAndTheFloor) {
    ac::manual_clock clock(t0_ns);
    fake_counter c(twitter, 900, 0, clock);
    const std::uint64_t last = c.next();
    c.rebind(3, 0);  // a lower node: ids must still increase
    const std::uint64_t moved = c.next();
    EXPECT_GT(moved, last);
    EXPECT_EQ(c.node(), 3u);
    EXPECT_EQ(twitter.decode(moved).ticks, t0_ticks + 1);
    const std::uint64_t floor = twitter.pack(t0_ticks + 100, 4, 10);
    c.rebind(4, floor);
    EXPECT_EQ(c.next(), floor + 1);
    EXPECT_THROW(c.rebind(1024, 0), std::invalid_argument);
}

TEST(SnowflakeCounter, TimeRunsOut) {
    const ac::layout tiny(0, 1000000000ULL, 2, 1, 1, true);  // 4 seconds since 1970
    ac::manual_clock clock(3000000000ULL);
    ac::basic_snowflake_counter<ac::manual_clock> c(tiny, 1, 0, clock);
    c.next();  // tick 3, sequence 1
    EXPECT_THROW(c.next(), std::overflow_error);
    clock.set_ns(9000000000ULL);
    EXPECT_THROW((ac::basic_snowflake_counter<ac::manual_clock>(tiny, 0, 0, clock)),
                 std::overflow_error);
}

TEST(SnowflakeCounter, ThreadsNeverCollideAcrossNodes) {
    ac::snowflake_counter a(twitter, 1);
    ac::snowflake_counter b(twitter, 2);
    std::vector<std::vector<std::uint64_t>> runs(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < runs.size(); ++t) {
        threads.emplace_back([&, t] {
            ac::snowflake_counter& c = t % 2 ? a : b;
            for (int i = 0; i < 200000; ++i) {
                runs[t].push_back(c.next());
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    std::vector<std::uint64_t> all;
    for (auto const& run : runs) {
        for (std::size_t i = 1; i < run.size(); ++i) {
            ASSERT_LT(run[i - 1], run[i]);
        }
        all.insert(all.end(), run.begin(), run.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
}

TEST(SnowflakeCounter, AClockPastTheLayoutsEndIsOverflowNotAWideId) {
    // Found by fuzz_layout: a 54-bit ns layout with the clock past its end once produced an id
    // wider than the layout.
    const ac::layout l(0, 1, 54, 0, 0, true);
    ac::manual_clock clock(1000);
    ac::basic_snowflake_counter<ac::manual_clock> c(l, 0, 0, clock);
    clock.set_ns(~std::uint64_t{0} - 5);
    EXPECT_THROW(c.next(), std::overflow_error);
    EXPECT_EQ(c.current(), 1000u);
}
