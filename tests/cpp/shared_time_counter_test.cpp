#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shared_test_util.hpp"

namespace ac = atomic_counter;

using SharedTimeCounter = SharedTest;

namespace {
constexpr std::uint64_t t0_us = 1795662617814075ULL;
}

TEST_F(SharedTimeCounter, TwoMappingsFollowOneRule) {
    ac::manual_clock clock(t0_us * 1000);
    ac::basic_shared_time_counter<ac::manual_clock> a(name_, std::nullopt, clock);
    ac::basic_shared_time_counter<ac::manual_clock> b(name_, std::nullopt, clock);
    EXPECT_TRUE(a.created());
    EXPECT_FALSE(b.created());
    EXPECT_EQ(a.current(), (t0_us << 12) | 2048u);
    EXPECT_EQ(a.next(), ((t0_us << 12) | 2048u) + 1);
    EXPECT_EQ(b.next(), ((t0_us << 12) | 2048u) + 2);  // same microsecond, across mappings
    clock.advance_ns(1000);
    EXPECT_EQ(b.next(), (t0_us + 1) << 12);
    clock.rewind_ns(1000000);
    EXPECT_EQ(a.next(), ((t0_us + 1) << 12) + 1);
    EXPECT_GT(a.lead_us(), 999u);
    std::vector<std::uint64_t> block(4);
    b.next_many(block.data(), 4);
    EXPECT_EQ(block[0], ((t0_us + 1) << 12) + 2);
    EXPECT_EQ(b.current(), block[3]);
}

TEST_F(SharedTimeCounter, TheOtherKindIsAnError) {
    ac::shared_time_counter t(name_);
    try {
        ac::shared_counter c(name_);
        ADD_FAILURE();
    } catch (std::invalid_argument const& e) {
        EXPECT_NE(std::string(e.what()).find("holds a SharedTimeCounter, not a SharedCounter"),
                  std::string::npos)
            << e.what();
    }
}

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedTimeCounter, ForkedProcessesNeverCollide) {
    ac::shared_time_counter t(name_);
    const auto runs = draw_in_processes(4, 250000, [&] { return t.next(); });
    expect_unique_and_increasing(runs);
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedTimeCounter, ThreadsAndProcessesTogether) {
    ac::shared_time_counter t(name_);
    const auto runs = draw_in_processes(2, 100000, [&] {
        // Each child draws from two threads at once; the parent checks the child's own order.
        static std::vector<std::uint64_t> mine;
        static std::size_t index = 0;
        if (mine.empty()) {
            std::vector<std::uint64_t> a, b;
            std::thread other([&] {
                for (int i = 0; i < 50000; ++i) {
                    b.push_back(t.next());
                }
            });
            for (int i = 0; i < 50000; ++i) {
                a.push_back(t.next());
            }
            other.join();
            // Keep the union: sorted, which is the order within one process's draws overall.
            mine = a;
            mine.insert(mine.end(), b.begin(), b.end());
            std::sort(mine.begin(), mine.end());
        }
        return mine[index++];
    });
    expect_unique_and_increasing(runs);
}
#endif

TEST_F(SharedTimeCounter, DurableReopenStartsAboveTheMark) {
    const std::string file = path("t");
    ac::manual_clock clock(t0_us * 1000);
    std::uint64_t last = 0;
    {
        ac::basic_shared_time_counter<ac::manual_clock> t(file, 50, clock);
        for (int i = 0; i < 10000; ++i) {
            last = t.next();
        }
    }
    std::string bytes = read_file(file);
    set_value(bytes, t0_us << 12);  // a lost update, as after a machine crash
    simulate_reboot(bytes);
    write_file(file, bytes);
    ac::basic_shared_time_counter<ac::manual_clock> t(file, std::nullopt, clock);
    EXPECT_GT(t.next(), last);
    EXPECT_LE(t.lead_us(), 50u + 3u);
    EXPECT_THROW(ac::shared_time_counter(name_, 50), std::invalid_argument);  // shm: not durable
}

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedTimeCounter, ThreadsAndProcessesWhileEveryClockJumps) {
    // Three processes, each with two drawing threads and its own clock jumping back and forth
    // (as separate hosts' processes would see different clocks), all on one shared counter.
    {
        ac::shared_time_counter create(name_);
    }
    const std::string name = name_;
    const auto runs = draw_in_processes(3, 2 * 50000, [name] {
        static std::vector<std::uint64_t> mine;
        static std::size_t index = 0;
        if (mine.empty()) {
            ac::manual_clock clock(t0_us * 1000);
            ac::basic_shared_time_counter<ac::manual_clock> counter(name, std::nullopt, clock);
            std::atomic<bool> done{false};
            std::thread jumper([&] {
                for (std::uint64_t i = 0; !done.load(); ++i) {
                    if (i % 4 == 3) {
                        clock.rewind_ns(3000000);  // 3 ms back
                    } else {
                        clock.advance_ns(1500000);
                    }
                    std::this_thread::yield();
                }
            });
            std::vector<std::uint64_t> a, b;
            std::thread other([&] {
                for (int i = 0; i < 50000; ++i) {
                    b.push_back(counter.next());
                }
            });
            for (int i = 0; i < 50000; ++i) {
                a.push_back(counter.next());
            }
            other.join();
            done.store(true);
            jumper.join();
            for (auto const* run : {&a, &b}) {
                for (std::size_t i = 1; i < run->size(); ++i) {
                    if ((*run)[i - 1] >= (*run)[i]) {
                        _exit(3);  // a thread went backwards: the parent sees the exit status
                    }
                }
            }
            mine = a;
            mine.insert(mine.end(), b.begin(), b.end());
            std::sort(mine.begin(), mine.end());
        }
        return mine[index++];
    });
    expect_unique_and_increasing(runs);
}
#endif

TEST_F(SharedTimeCounter, DurableOpensWithinABootKeepTheirLeadWithinABlock) {
    std::uint64_t boot[2];
    ac::detail::os::boot_id(boot);
    if (boot[0] == 0 && boot[1] == 0) {
        GTEST_SKIP() << "this system reports no boot id: every durable open lifts, as before";
    }
    const std::string file = path("opens");
    ac::manual_clock clock(t0_us * 1000);
    {
        ac::basic_shared_time_counter<ac::manual_clock> t(file, 1000, clock);
    }
    std::uint64_t last = 0;
    for (int i = 0; i < 50; ++i) {
        ac::basic_shared_time_counter<ac::manual_clock> t(file, std::nullopt, clock);
        const std::uint64_t id = t.next();
        EXPECT_GT(id, last);
        last = id;
        ASSERT_LE(t.lead_us(), 1000u) << "open " << i;  // before: 1000 us more per open
    }
    EXPECT_EQ(ac::detail::time_rules::decode_timestamp_microseconds(last), t0_us);
}
