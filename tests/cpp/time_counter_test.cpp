#include <atomic_counter/time_counter.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace ac = atomic_counter;
using fake_time_counter = ac::basic_time_counter<ac::manual_clock>;

namespace {
// 2026-11-26T03:10:17.814075Z, a microsecond in ns.
constexpr std::uint64_t t0_us = 1795662617814075ULL;
constexpr std::uint64_t t0_ns = t0_us * 1000 + 999;  // the sub-microsecond part is dropped
constexpr std::uint64_t seq_mask = fake_time_counter::sequence_mask;
}  // namespace

TEST(TimeCounterLayout, GoldenBits) {
    // The original's layout: 52 bits of microseconds, 12 bits of sequence, 2048 to start.
    EXPECT_EQ(fake_time_counter::sequence_bits, 12u);
    EXPECT_EQ(fake_time_counter::timestamp_bits, 52u);
    EXPECT_EQ(fake_time_counter::sequence_mask, 4095u);
    EXPECT_EQ(fake_time_counter::initial_sequence, 2048u);
    // A value the original atomic-counter 0.1.4 produced, decoded: 7355034082566451200 is
    // 2026-11-26T03:10:17.814075Z with sequence 0.
    EXPECT_EQ(ac::time_counter::pack(t0_us, 0), 7355034082566451200ULL);
    EXPECT_EQ(ac::time_counter::decode_timestamp_microseconds(7355034082566451200ULL), t0_us);
    EXPECT_EQ(ac::time_counter::decode_sequence(7355034082566451200ULL + 77), 77u);
    EXPECT_EQ(ac::time_counter::pack(t0_us, 4096), ac::time_counter::pack(t0_us, 0));
    EXPECT_EQ(ac::time_counter::encode(t0_us, 1), ac::time_counter::pack(t0_us, 1));  // 0.2's name
}

TEST(TimeCounter, StartsAtTheCurrentMicrosecondWithSequence2048) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    EXPECT_EQ(c.current(), (t0_us << 12) | 2048u);
    EXPECT_EQ(c.lead_us(), 0u);
}

TEST(TimeCounter, ALaterMicrosecondStartsAtSequenceZero) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    clock.advance_ns(1000);
    EXPECT_EQ(c.next(), (t0_us + 1) << 12);
    EXPECT_EQ(c.next(), ((t0_us + 1) << 12) | 1u);
    clock.advance_ns(7000);
    EXPECT_EQ(c.next(), (t0_us + 8) << 12);
}

TEST(TimeCounter, FrozenClockTenThousandDrawsAreConsecutiveAndBorrow) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    const std::uint64_t start = c.current();
    for (std::uint64_t i = 1; i <= 10000; ++i) {
        ASSERT_EQ(c.next(), start + i) << "draw " << i;
    }
    // 2048 + 10000 sequence steps carry 2 whole microseconds past t0, into the third.
    EXPECT_EQ(ac::time_counter::decode_timestamp_microseconds(c.current()), t0_us + 2);
    EXPECT_EQ(ac::time_counter::decode_sequence(c.current()), (2048u + 10000u) & seq_mask);
    EXPECT_EQ(c.lead_us(), 2u);
    // Once the clock passes the borrowed microseconds, ids follow the clock again.
    clock.advance_ns(3000);
    EXPECT_EQ(c.next(), (t0_us + 3) << 12);
    EXPECT_EQ(c.lead_us(), 0u);
}

TEST(TimeCounter, ClockSteppedBackOneSecondNeverGoesBackwards) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    clock.advance_ns(1000);
    const std::uint64_t before_step = c.next();
    EXPECT_EQ(before_step, (t0_us + 1) << 12);
    clock.rewind_ns(1000000000);
    std::uint64_t last = before_step;
    for (int i = 0; i < 5000; ++i) {
        const std::uint64_t id = c.next();
        ASSERT_EQ(id, last + 1);
        last = id;
    }
    // The ids borrow from the microseconds after t0 + 1; the lead says how far ahead they run.
    EXPECT_EQ(c.lead_us(), (last >> 12) - (t0_us + 1 - 1000000));
    EXPECT_GT(c.lead_us(), 1000000u);
    // Half a second later the clock is still behind: ids keep counting up from the last one.
    clock.advance_ns(500000000);
    EXPECT_EQ(c.next(), last + 1);
    // Past the step, ids return to the clock's microsecond with sequence 0.
    clock.set_ns(t0_ns + 2000000);
    EXPECT_EQ(c.next(), (t0_us + 2000) << 12);
    EXPECT_EQ(c.lead_us(), 0u);
}

TEST(TimeCounter, ForwardJumpFollowsTheClock) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    const std::uint64_t first = c.next();
    clock.advance_ns(3600ULL * 1000000000ULL);
    const std::uint64_t after_jump = c.next();
    EXPECT_GT(after_jump, first);
    EXPECT_EQ(after_jump, (t0_us + 3600ULL * 1000000ULL) << 12);
}

TEST(TimeCounter, LeadIsZeroWhenTheClockIsAhead) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    clock.advance_ns(5000000);
    EXPECT_EQ(c.lead_us(), 0u);
}

TEST(TimeCounter, TheLastValueThrowsInsteadOfWrapping) {
    // A clock set to the last representable microsecond.
    constexpr std::uint64_t last_us = fake_time_counter::timestamp_mask;
    ac::manual_clock clock(last_us * 1000);
    fake_time_counter c(clock);
    constexpr std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(c.current(), max64 - 2047);
    for (int i = 0; i < 2047; ++i) {
        c.next();
    }
    EXPECT_EQ(c.current(), max64);
    EXPECT_THROW(c.next(), std::overflow_error);
    EXPECT_EQ(c.current(), max64);
}

TEST(TimeCounter, RealClockIdsDecodeToNow) {
    const std::uint64_t before_us = ac::system_clock{}.now_ns() / 1000;
    ac::time_counter c;
    const std::uint64_t id = c.next();
    const std::uint64_t after_us = ac::system_clock{}.now_ns() / 1000;
    const std::uint64_t us = ac::time_counter::decode_timestamp_microseconds(id);
    EXPECT_GE(us, before_us);
    EXPECT_LE(us, after_us);
}

TEST(TimeCounter, NextExclusiveFollowsTheSameRule) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter a(clock);
    fake_time_counter b(clock);
    for (int i = 0; i < 5000; ++i) {
        if (i % 1000 == 999) {
            clock.advance_ns(3000);
        }
        if (i == 2500) {
            clock.rewind_ns(10000);
        }
        ASSERT_EQ(a.next(), b.next_exclusive()) << i;
    }
}

TEST(TimeCounter, NextManyIsConsecutiveFromWhatNextWouldReturn) {
    ac::manual_clock clock(t0_ns);
    fake_time_counter c(clock);
    clock.advance_ns(1000);
    std::vector<std::uint64_t> out(10000);
    c.next_many(out.data(), out.size());
    EXPECT_EQ(out.front(), (t0_us + 1) << 12);  // a later microsecond: sequence 0
    for (std::size_t i = 1; i < out.size(); ++i) {
        ASSERT_EQ(out[i], out[i - 1] + 1);
    }
    EXPECT_EQ(c.current(), out.back());
    EXPECT_EQ(c.lead_us(), (out.back() >> 12) - (t0_us + 1));
    // Same microsecond: the next block starts right after the last id.
    c.next_many(out.data(), 3);
    EXPECT_EQ(out[0], c.current() - 2);
}

TEST(TimeCounter, NextManyPastTheMaximumWritesNothing) {
    ac::manual_clock clock(fake_time_counter::timestamp_mask * 1000);
    fake_time_counter c(clock);
    std::vector<std::uint64_t> out(2048, 42);
    EXPECT_THROW(c.next_many(out.data(), 2048), std::overflow_error);
    EXPECT_EQ(c.current(), std::numeric_limits<std::uint64_t>::max() - 2047);
    EXPECT_EQ(out, std::vector<std::uint64_t>(2048, 42));
    c.next_many(out.data(), 2047);
    EXPECT_EQ(out[2046], std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(out[2047], 42u);
}
