#include <atomic_counter/counter.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace ac = atomic_counter;

namespace {
constexpr std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();

template <class F>
std::string error_message(F&& f) {
    try {
        f();
    } catch (std::exception const& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(Counter, DefaultBaseIsTheOriginalsConstant) {
    // Golden: 2020-01-01T05:00:00Z in ns. Changing it would send every user's ids backwards.
    EXPECT_EQ(ac::default_base_ns, 1577854800000000000ULL);
    ac::counter c(ac::default_base_ns, ac::default_base_ns);
    EXPECT_EQ(c.base(), ac::default_base_ns);
    EXPECT_EQ(c.current(), 0u);
}

TEST(Counter, StartsAtNowMinusBaseAndStepsByOne) {
    ac::counter c(0, 0);
    EXPECT_EQ(c.current(), 0u);
    EXPECT_EQ(c.next(), 1u);
    EXPECT_EQ(c.current(), 1u);
    EXPECT_EQ(c.next(), 2u);
    ac::counter d(100, 1100);
    EXPECT_EQ(d.current(), 1000u);
    EXPECT_EQ(d.next(), 1001u);
}

TEST(Counter, IntervalTwoFromEvenAndOddStarts) {
    ac::counter even(ac::default_base_ns, ac::default_base_ns, 2);
    ac::counter odd(ac::default_base_ns, ac::default_base_ns + 1, 2);
    EXPECT_EQ(even.next(), 2u);
    EXPECT_EQ(odd.next(), 3u);
    EXPECT_EQ(even.next(), 4u);
    EXPECT_EQ(odd.next(), 5u);
    EXPECT_EQ(even.interval(), 2u);
}

TEST(Counter, DefaultNowComesFromTheClock) {
    ac::manual_clock clock(ac::default_base_ns + 12345);
    ac::basic_counter<ac::manual_clock> c(ac::default_base_ns, std::nullopt, 1, clock);
    EXPECT_EQ(c.current(), 12345u);
    // The clock is read once, at construction: later readings do not move the counter.
    clock.advance_ns(1000000);
    EXPECT_EQ(c.next(), 12346u);
}

TEST(Counter, DefaultConstructedStartsAtTheWallClockSinceTheBase) {
    const std::uint64_t before = ac::system_clock{}.now_ns() - ac::default_base_ns;
    ac::counter c;
    const std::uint64_t after = ac::system_clock{}.now_ns() - ac::default_base_ns;
    EXPECT_GE(c.current(), before);
    EXPECT_LE(c.current(), after);
    EXPECT_EQ(c.interval(), 1u);
}

TEST(Counter, SetOverridesTheValue) {
    ac::counter c(0, 0, 3);
    c.set(10);
    EXPECT_EQ(c.current(), 10u);
    EXPECT_EQ(c.next(), 13u);
    c.set(c.limit());
    EXPECT_EQ(c.current(), c.limit());
    EXPECT_THROW(c.set(c.limit() + 1), std::invalid_argument);
    EXPECT_EQ(c.current(), c.limit());
}

TEST(Counter, LimitKeepsTwoToThe32IntervalsOfHeadroom) {
    // Golden: headroom mode up to interval 2^31, exact compare-exchange mode above.
    EXPECT_EQ(ac::counter(0, 0, 1).limit(), max64 - (1ULL << 32));
    EXPECT_EQ(ac::counter(0, 0, 1000).limit(), max64 - (1000ULL << 32));
    EXPECT_EQ(ac::counter(0, 0, 1ULL << 31).limit(), max64 - (1ULL << 63));
    EXPECT_EQ(ac::counter(0, 0, (1ULL << 31) + 1).limit(), max64 - (1ULL << 31) - 1);
}

TEST(Counter, NowBeforeBaseIsInvalid) {
    EXPECT_THROW(ac::counter(10, 9), std::invalid_argument);
    EXPECT_EQ(error_message([] { ac::counter(10, 9); }),
              "atomic_counter::counter: now (9) must be >= base (10)");
}

TEST(Counter, ZeroIntervalIsInvalid) {
    EXPECT_THROW(ac::counter(0, 0, 0), std::invalid_argument);
    EXPECT_EQ(error_message([] { ac::counter(0, 0, 0); }),
              "atomic_counter::counter: interval must be in [1, 2**64 - 1], got 0");
}

TEST(Counter, ReachesTheLimitThenThrowsAndKeepsItsValue) {
    const std::uint64_t limit = ac::counter(0, 0).limit();
    ac::counter c(0, limit - 1);
    EXPECT_EQ(c.next(), limit);
    EXPECT_EQ(c.next(), limit + 1);
    EXPECT_THROW(c.next(), std::overflow_error);
    EXPECT_EQ(c.current(), limit + 1);
    EXPECT_THROW(c.next_exclusive(), std::overflow_error);
    EXPECT_EQ(c.current(), limit + 1);
}

TEST(Counter, LargeIntervalsAreExactUpTo2To64Minus1) {
    ac::counter c(0, 5, max64 - 10);
    EXPECT_EQ(c.limit(), 10u);
    EXPECT_EQ(c.next(), max64 - 5);
    EXPECT_THROW(c.next(), std::overflow_error);
    EXPECT_EQ(c.current(), max64 - 5);
    const std::string message = error_message([&] { c.next(); });
    EXPECT_NE(message.find("atomic_counter::counter::next"), std::string::npos) << message;
    EXPECT_NE(message.find("keeps its value"), std::string::npos) << message;
}

TEST(Counter, NextExclusiveDrawsTheSameSequence) {
    ac::counter a(0, 5, 3);
    ac::counter b(0, 5, 3);
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(a.next(), b.next_exclusive());
    }
    ac::counter full(0, max64);
    EXPECT_THROW(full.next_exclusive(), std::overflow_error);
    EXPECT_EQ(full.current(), max64);
}

TEST(Counter, NextManyIsNCallsOfNext) {
    ac::counter bulk(0, 7, 2);
    ac::counter single(0, 7, 2);
    std::vector<std::uint64_t> out(1000);
    bulk.next_many(out.data(), out.size());
    for (std::uint64_t value : out) {
        ASSERT_EQ(value, single.next());
    }
    EXPECT_EQ(bulk.current(), single.current());
    bulk.next_many(out.data(), 0);
    EXPECT_EQ(bulk.current(), single.current());
}

TEST(Counter, NextManyPastTheLimitWritesNothing) {
    const std::uint64_t limit = ac::counter(0, 0, 2).limit();
    ac::counter c(0, limit - 8, 2);
    std::vector<std::uint64_t> out(6, 42);
    EXPECT_THROW(c.next_many(out.data(), 6), std::overflow_error);  // would end at limit + 4
    EXPECT_EQ(c.current(), limit - 8);
    EXPECT_EQ(out, std::vector<std::uint64_t>(6, 42));
    c.next_many(out.data(), 5);  // ends where a single draw from the limit would
    EXPECT_EQ(out[4], limit + 2);
    EXPECT_EQ(out[5], 42u);
    EXPECT_THROW(c.next(), std::overflow_error);
}

TEST(Counter, NextManyInExactModeReaches2To64Minus1) {
    const std::uint64_t interval = 1ULL << 40;
    ac::counter c(0, max64 - 3 * interval, interval);
    std::vector<std::uint64_t> out(3);
    c.next_many(out.data(), 3);
    EXPECT_EQ(out[2], max64);
    EXPECT_THROW(c.next_many(out.data(), 1), std::overflow_error);
}
