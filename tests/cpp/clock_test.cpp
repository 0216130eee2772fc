#include <atomic_counter/clock.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace ac = atomic_counter;

TEST(SystemClock, ReadsUtcNanosecondsSinceTheEpoch) {
    const auto before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::uint64_t now = ac::system_clock{}.now_ns();
    const auto after = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    EXPECT_GE(now, static_cast<std::uint64_t>(before));
    EXPECT_LE(now, static_cast<std::uint64_t>(after));
    // 2020-01-01 < now < 2100-01-01: a reading in ns, not us or s.
    EXPECT_GT(now, 1577836800000000000ULL);
    EXPECT_LT(now, 4102444800000000000ULL);
}

TEST(ManualClock, CopiesShareOneTimeThatMovesBothWays) {
    ac::manual_clock clock(1000);
    const ac::manual_clock copy = clock;
    EXPECT_EQ(copy.now_ns(), 1000u);
    clock.advance_ns(500);
    EXPECT_EQ(copy.now_ns(), 1500u);
    clock.rewind_ns(1200);
    EXPECT_EQ(copy.now_ns(), 300u);
    clock.set_ns(42);
    EXPECT_EQ(copy.now_ns(), 42u);
}
