// Many threads drawing from one counter at once: no value is ever handed out twice and every
// thread's values strictly increase. Run under ThreadSanitizer as well as plainly.
#include <atomic_counter/counter.hpp>
#include <atomic_counter/time_counter.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ac = atomic_counter;

namespace {

std::size_t draws_per_thread() {
    // Sanitizer builds set this lower to stay within CI's time.
    if (const char* env = std::getenv("ATOMIC_COUNTER_STRESS_DRAWS")) {
        return static_cast<std::size_t>(std::strtoull(env, nullptr, 10));
    }
    return 1000000;
}

// Runs `threads` threads, released together, each drawing `draws` values with `draw`.
template <class Draw>
std::vector<std::vector<std::uint64_t>> draw_concurrently(int threads, std::size_t draws,
                                                          Draw draw) {
    std::vector<std::vector<std::uint64_t>> results(static_cast<std::size_t>(threads));
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (auto& out : results) {
        pool.emplace_back([&, threads] {
            out.reserve(draws);
            ready.fetch_add(1);
            while (ready.load() < threads) {
                std::this_thread::yield();
            }
            for (std::size_t i = 0; i < draws; ++i) {
                out.push_back(draw());
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
    return results;
}

void expect_unique_and_increasing_per_thread(std::vector<std::vector<std::uint64_t>> const& runs) {
    std::vector<std::uint64_t> all;
    for (std::size_t t = 0; t < runs.size(); ++t) {
        auto const& run = runs[t];
        for (std::size_t i = 1; i < run.size(); ++i) {
            ASSERT_LT(run[i - 1], run[i]) << "thread " << t << " went backwards at draw " << i;
        }
        all.insert(all.end(), run.begin(), run.end());
    }
    std::sort(all.begin(), all.end());
    const auto dup = std::adjacent_find(all.begin(), all.end());
    ASSERT_EQ(dup, all.end()) << "duplicate value " << *dup;
}

}  // namespace

TEST(Stress, CounterEightThreads) {
    ac::counter c(0, 0);
    const std::size_t draws = draws_per_thread();
    const auto runs = draw_concurrently(8, draws, [&] { return c.next(); });
    expect_unique_and_increasing_per_thread(runs);
    // With interval 1 from 0, the union is exactly 1..8*draws: nothing lost, nothing reissued.
    EXPECT_EQ(c.current(), 8 * draws);
}

TEST(Stress, TimeCounterEightThreads) {
    ac::time_counter c;
    const auto runs = draw_concurrently(8, draws_per_thread(), [&] { return c.next(); });
    expect_unique_and_increasing_per_thread(runs);
}

TEST(Stress, TimeCounterWhileTheClockJumpsBackAndForth) {
    ac::manual_clock clock(1795662617814075ULL * 1000);
    ac::basic_time_counter<ac::manual_clock> c(clock);
    std::atomic<bool> done{false};
    std::thread jumper([&] {
        for (std::uint64_t i = 0; !done.load(std::memory_order_relaxed); ++i) {
            if (i % 3 == 2) {
                clock.rewind_ns(1500);  // a step back
            } else {
                clock.advance_ns(1000);
            }
            std::this_thread::yield();
        }
    });
    const auto runs = draw_concurrently(4, draws_per_thread() / 4, [&] { return c.next(); });
    done.store(true);
    jumper.join();
    expect_unique_and_increasing_per_thread(runs);
}

TEST(Stress, BulkDrawsAgainstSingleDrawsInOtherThreads) {
    ac::counter c(0, 0);
    ac::time_counter t;
    const std::size_t draws = draws_per_thread() / 4;
    std::atomic<int> turn{0};
    auto draw_counter = [&] {
        // Every fourth draw of one thread is a block of 100 taken with next_many.
        thread_local std::uint64_t block[100];
        thread_local std::size_t used = 100;
        if (turn.fetch_add(1, std::memory_order_relaxed) % 4 == 0 || used < 100) {
            if (used == 100) {
                c.next_many(block, 100);
                used = 0;
            }
            return block[used++];
        }
        return c.next();
    };
    expect_unique_and_increasing_per_thread(draw_concurrently(4, draws, draw_counter));
    EXPECT_EQ(c.current() >= 4 * draws, true);

    auto draw_time = [&] {
        thread_local std::uint64_t block[64];
        thread_local std::size_t used = 64;
        if (turn.fetch_add(1, std::memory_order_relaxed) % 3 == 0 || used < 64) {
            if (used == 64) {
                t.next_many(block, 64);
                used = 0;
            }
            return block[used++];
        }
        return t.next();
    };
    expect_unique_and_increasing_per_thread(draw_concurrently(4, draws, draw_time));
}

TEST(Stress, EightThreadsRacingToTheLimitNeverWrap) {
    // Every thread draws until the counter refuses; the checks and fetch_adds race at the end.
    for (int round = 0; round < 20; ++round) {
        ac::counter c(0, 0);
        const std::uint64_t limit = c.limit();
        c.set(limit - 20000);
        std::vector<std::vector<std::uint64_t>> runs(8);
        std::vector<std::thread> pool;
        std::atomic<int> ready{0};
        for (auto& run : runs) {
            pool.emplace_back([&] {
                ready.fetch_add(1);
                while (ready.load() < 8) {
                }
                for (;;) {
                    try {
                        run.push_back(c.next());
                    } catch (std::overflow_error const&) {
                        return;
                    }
                }
            });
        }
        for (auto& t : pool) {
            t.join();
        }
        expect_unique_and_increasing_per_thread(runs);
        std::uint64_t drawn = 0;
        for (auto const& run : runs) {
            drawn += run.size();
            for (std::uint64_t v : run) {
                ASSERT_GT(v, limit - 20000);
                ASSERT_LE(v, limit + 1);  // a draw starts at the limit at the latest
            }
        }
        // Exactly the values limit - 19999 ... limit + 1, and every refused add taken back.
        EXPECT_EQ(drawn, 20001u);
        EXPECT_EQ(c.current(), limit + 1);
    }
}
