#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "shared_test_util.hpp"

namespace ac = atomic_counter;

using SharedCounter = SharedTest;

TEST_F(SharedCounter, CreatesThenAttachesToOneValue) {
    ac::shared_counter first(name_, 100, 1100, 2);
    EXPECT_TRUE(first.created());
    EXPECT_EQ(first.current(), 1000u);
    ac::shared_counter second(name_);  // attaches: takes base and interval from the region
    EXPECT_FALSE(second.created());
    EXPECT_EQ(second.base(), 100u);
    EXPECT_EQ(second.interval(), 2u);
    EXPECT_EQ(first.next(), 1002u);
    EXPECT_EQ(second.next(), 1004u);
    EXPECT_EQ(first.current(), 1004u);
    second.set(10);
    EXPECT_EQ(first.next(), 12u);
    std::vector<std::uint64_t> block(3);
    second.next_many(block.data(), 3);
    EXPECT_EQ(block, (std::vector<std::uint64_t>{14, 16, 18}));
}

TEST_F(SharedCounter, AFileBackedRegionPersistsAcrossOpens) {
    const std::string file = path("orders.ctr");
    {
        ac::shared_counter c(file, 0, 0);
        EXPECT_EQ(c.next(), 1u);
    }
    ac::shared_counter again(file, 0, 5);  // `now` only matters when creating
    EXPECT_FALSE(again.created());
    EXPECT_EQ(again.next(), 2u);
}

TEST_F(SharedCounter, ParametersThatDifferFromTheRegionsAreErrors) {
    ac::shared_counter c(name_, 100, 200, 3);
    EXPECT_THROW(ac::shared_counter(name_, 101), std::invalid_argument);
    EXPECT_THROW(ac::shared_counter(name_, std::nullopt, std::nullopt, 4), std::invalid_argument);
    EXPECT_THROW(ac::shared_time_counter{name_}, std::invalid_argument);  // the other kind
    try {
        ac::shared_counter(name_, std::nullopt, std::nullopt, 4);
    } catch (std::invalid_argument const& e) {
        EXPECT_NE(std::string(e.what()).find("interval 4 differs from the region's 3"),
                  std::string::npos)
            << e.what();
    }
    ac::shared_counter same(name_, 100, std::nullopt, 3);
    EXPECT_EQ(same.current(), 100u);
}

TEST_F(SharedCounter, BadArgumentsNeverCreateARegion) {
    EXPECT_THROW(ac::shared_counter(name_, 0, 0, 0), std::invalid_argument);
    EXPECT_THROW(ac::shared_counter(name_, 10, 5), std::invalid_argument);
    EXPECT_THROW(ac::shared_counter(name_, 0, 0, 1, 100), std::invalid_argument);  // durable shm
    EXPECT_THROW(ac::shared_counter(""), std::invalid_argument);
#if defined(__linux__)
    EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name_));
#endif
}

TEST_F(SharedCounter, TruncatedWrongSizeAndForeignFilesAreLeftUntouched) {
    const std::string truncated = path("truncated");
    write_file(truncated, std::string(100, '\0'));
    const std::string big = path("big");
    write_file(big, std::string(5000, '\0'));
    const std::string foreign = path("foreign");
    write_file(foreign, std::string(4096, 'x'));
    for (auto const& file : {truncated, big, foreign}) {
        const std::string before = read_file(file);
        EXPECT_THROW(ac::shared_counter{file}, std::domain_error) << file;
        EXPECT_EQ(read_file(file), before) << file;
    }
    try {
        ac::shared_counter{truncated};
    } catch (std::domain_error const& e) {
        EXPECT_NE(std::string(e.what()).find("truncated (100 bytes, expected 4096)"),
                  std::string::npos)
            << e.what();
    }
}

TEST_F(SharedCounter, CorruptedHeadersAreDetected) {
    const std::string file = path("c");
    {
        ac::shared_counter c(file, 0, 0);
    }
    const std::string good = read_file(file);
    const auto corrupt = [&](std::size_t offset, char value, char const* expect) {
        std::string bad = good;
        bad[offset] = value;
        write_file(file, bad);
        try {
            ac::shared_counter c(file);
            ADD_FAILURE() << "opened a region corrupted at " << offset;
        } catch (std::exception const& e) {
            EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
        }
        EXPECT_EQ(read_file(file), bad);
    };
    corrupt(0, 'Z', "bad magic");
    corrupt(8, 9, "format version 9");
    corrupt(12, 7, "unknown kind (7)");
    corrupt(64, 5, "corrupt header (state 5)");
}

TEST_F(SharedCounter, MissingDirectoryIsASystemError) {
    try {
        ac::shared_counter c(path("no/such/dir/c"));
        ADD_FAILURE();
    } catch (std::system_error const& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
    }
}

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedCounter, ReadOnlyFileIsPermissionDenied) {
    if (geteuid() == 0) {
        GTEST_SKIP() << "root may write any file; the Python suite checks this as another user";
    }
    const std::string file = path("ro");
    {
        ac::shared_counter c(file, 0, 0);
    }
    chmod(file.c_str(), 0444);
    try {
        ac::shared_counter c(file);
        ADD_FAILURE();
    } catch (std::system_error const& e) {
        EXPECT_EQ(e.code().value(), EACCES);
    }
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedCounter, UnlinkRemovesTheName) {
    {
        ac::shared_counter c(name_, 0, 0);
    }
    ac::shared_counter::unlink(name_);
    EXPECT_THROW(ac::shared_counter::unlink(name_), std::system_error);
    ac::shared_counter fresh(name_, 0, 7);
    EXPECT_TRUE(fresh.created());
    EXPECT_EQ(fresh.current(), 7u);
}
#endif

TEST_F(SharedCounter, ThreadsThroughSeveralMappings) {
    ac::shared_counter a(name_, 0, 0);
    ac::shared_counter b(name_);
    std::vector<std::vector<std::uint64_t>> runs(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < runs.size(); ++t) {
        threads.emplace_back([&, t] {
            ac::shared_counter& c = t % 2 ? a : b;
            for (int i = 0; i < 200000; ++i) {
                runs[t].push_back(c.next());
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    expect_unique_and_increasing(runs);
    EXPECT_EQ(a.current(), 800000u);
}

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedCounter, ForkedProcessesShareOneSequence) {
    ac::shared_counter c(name_, 0, 0);
    const auto runs = draw_in_processes(4, 250000, [&] {
        static ac::shared_counter own(name_);  // each child also attaches on its own
        return own.next();
    });
    expect_unique_and_increasing(runs);
    EXPECT_EQ(c.current(), 1000000u);
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedCounter, ConcurrentCreationAgreesOnOneInitialisation) {
    for (int round = 0; round < 20; ++round) {
        const std::string name = name_ + "-" + std::to_string(round);
        // Every child creates-or-attaches at once with a different `now`: one start wins.
        const auto runs = draw_in_processes(4, 1, [&] {
            ac::shared_counter c(name, 0, 1000 * static_cast<std::uint64_t>(getpid()));
            return c.current() * 2 + (c.created() ? 1 : 0);
        });
        std::vector<std::uint64_t> starts;
        int creators = 0;
        for (auto const& run : runs) {
            starts.push_back(run[0] / 2);
            creators += static_cast<int>(run[0] % 2);
        }
        EXPECT_EQ(creators, 1) << "round " << round;
        EXPECT_EQ(std::count(starts.begin(), starts.end(), starts[0]), 4) << "round " << round;
        ac::shared_counter::unlink(name);
    }
}
#endif

TEST_F(SharedCounter, DurableReopenStartsAboveTheHighWaterMark) {
    const std::string file = path("durable");
    std::uint64_t last = 0;
    {
        ac::shared_counter c(file, 0, 0, 1, 16);
        EXPECT_EQ(c.durable_block(), 16u);
        for (int i = 0; i < 100; ++i) {
            last = c.next();
        }
    }
    // Simulate a machine crash that lost the page's latest value but kept what was msync'ed:
    // put the value back to where the region started, in a page last opened in another boot.
    std::string bytes = read_file(file);
    set_value(bytes, 0);
    simulate_reboot(bytes);
    write_file(file, bytes);
    ac::shared_counter reopened(file);
    const std::uint64_t next = reopened.next();
    EXPECT_GT(next, last);
    EXPECT_LE(next, last + 17);  // the gap is at most one block
    EXPECT_THROW(ac::shared_counter(file, std::nullopt, std::nullopt, std::nullopt, 0),
                 std::invalid_argument);  // durable differs
    EXPECT_THROW(ac::shared_counter(file, std::nullopt, std::nullopt, std::nullopt, 32),
                 std::invalid_argument);  // block differs
}

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedCounter, DurableSurvivesAKilledProcess) {
    const std::string file = path("killed");
    {
        ac::shared_counter c(file, 0, 0, 1, 1000);
    }
    int fd[2];
    ASSERT_EQ(pipe(fd), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        ac::shared_counter c(file);
        for (;;) {
            const std::uint64_t v = c.next();
            if (write(fd[1], &v, sizeof v) != sizeof v) {
                _exit(1);
            }
        }
    }
    close(fd[1]);
    std::vector<std::uint64_t> drawn(50000);
    ASSERT_EQ(read(fd[0], drawn.data(), sizeof(std::uint64_t)), 8);
    std::size_t got = 1;
    while (got < drawn.size()) {
        const ssize_t n = read(fd[0], &drawn[got], sizeof(std::uint64_t));
        ASSERT_EQ(n, 8);
        ++got;
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(fd[0]);
    ac::shared_counter after(file);
    EXPECT_GT(after.next(), drawn.back());
}
#endif

TEST_F(SharedCounter, SetNeverUndoesDrawsMadeDuringIt) {
    std::atomic<std::uint64_t> v{100};
    // No draw in between: a plain store, backwards included (the caller's decision).
    ac::detail::counter_rules::set_unless_moved(v, 100, 5);
    EXPECT_EQ(v.load(), 5u);
    // A draw moved the value from 5 to 50 while set(20) waited: 50 stays.
    v.store(50);
    ac::detail::counter_rules::set_unless_moved(v, 5, 20);
    EXPECT_EQ(v.load(), 50u);
    // ... and set(80) after draws moved it to 50 still lands at 80.
    ac::detail::counter_rules::set_unless_moved(v, 5, 80);
    EXPECT_EQ(v.load(), 80u);
}

TEST_F(SharedCounter, AdvanceToNeverMovesBackwards) {
    ac::shared_counter c(name_, 0, 0);
    c.advance_to(100);
    EXPECT_EQ(c.next(), 101u);
    c.advance_to(50);
    EXPECT_EQ(c.next(), 102u);
    EXPECT_THROW(c.advance_to(c.limit() + 1), std::invalid_argument);
    ac::counter local(0, 0);
    local.advance_to(10);
    local.advance_to(3);
    EXPECT_EQ(local.next(), 11u);
}

// Two processes of the helper tests/cpp/region_child.cpp draw from one counter at once: on
// Windows the only way to run a second process, elsewhere a check beside the fork tests.
TEST_F(SharedCounter, TwoProcessesShareOneCounter) {
    if (std::getenv("ATOMIC_COUNTER_TEST_NO_SPAWN") != nullptr) {
        GTEST_SKIP() << "no second process can be started here (an emulator without binfmt)";
    }
    ac::shared_counter c(name_, 0, 0);
    std::string child = ATOMIC_COUNTER_REGION_CHILD;
#if defined(_WIN32)
    std::replace(child.begin(), child.end(), '/', '\\');
#endif
    std::vector<std::thread> children;
    std::vector<int> status(2, -1);
    for (int i = 0; i < 2; ++i) {
        children.emplace_back([&, i] {
            const std::string out = path(i == 0 ? "child0.bin" : "child1.bin");
            std::string command = "\"" + child + "\" " + name_ + " 100000 \"" + out + "\"";
#if defined(_WIN32)
            command = "\"" + command + "\"";  // cmd /c strips one outer pair of quotes
#endif
            status[static_cast<std::size_t>(i)] = std::system(command.c_str());
        });
    }
    for (auto& t : children) {
        t.join();
    }
    std::vector<std::vector<std::uint64_t>> runs;
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(status[static_cast<std::size_t>(i)], 0) << "child " << i;
        const std::string bytes = read_file(path(i == 0 ? "child0.bin" : "child1.bin"));
        ASSERT_EQ(bytes.size(), 100000u * 8u);
        runs.emplace_back(100000);
        std::memcpy(runs.back().data(), bytes.data(), bytes.size());
    }
    expect_unique_and_increasing(runs);
    EXPECT_EQ(c.current(), 200000u);  // nothing lost, nothing twice
}

TEST_F(SharedCounter, DurableOpensWithinABootCostNoGap) {
    std::uint64_t boot[2];
    ac::detail::os::boot_id(boot);
    if (boot[0] == 0 && boot[1] == 0) {
        GTEST_SKIP() << "this system reports no boot id: every durable open lifts, as before";
    }
    const std::string file = path("opens");
    {
        ac::shared_counter c(file, 0, 0, 1, 1000);
    }
    for (std::uint64_t i = 1; i <= 50; ++i) {
        ac::shared_counter c(file);
        EXPECT_FALSE(c.created());
        ASSERT_EQ(c.next(), i) << "open " << i << " skipped values";  // before: a block per open
    }
    // The next boot is another matter: the page came back from the disk.
    std::string bytes = read_file(file);
    simulate_reboot(bytes);
    write_file(file, bytes);
    ac::shared_counter after(file);
    const std::uint64_t next = after.next();
    EXPECT_GT(next, 50u);
    EXPECT_LE(next, 50u + 1000u + 1u);
    ac::shared_counter same_boot(file);  // the lift was recorded: no second one
    EXPECT_EQ(same_boot.next(), next + 1);
}
