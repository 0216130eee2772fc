// Helpers for the shared-memory tests: a unique name and a scratch directory per test, drawing
// from forked child processes (POSIX), and from helper processes (tests/cpp/region_child.cpp,
// every system).
#ifndef ATOMIC_COUNTER_TESTS_SHARED_TEST_UTIL_HPP
#define ATOMIC_COUNTER_TESTS_SHARED_TEST_UTIL_HPP

#include <atomic_counter/shared_counter.hpp>
#include <gtest/gtest.h>
#if !defined(_WIN32)
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

class SharedTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        const std::string pid = std::to_string(atomic_counter::detail::os::current_pid());
        name_ = "ac-test-" + pid + "-" + test;
        dir_ = std::filesystem::temp_directory_path() / ("ac-test-" + pid + "-" + test);
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override {
        try {
            atomic_counter::shared_counter::unlink(name_);
        } catch (std::system_error const&) {
        }
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    std::string path(char const* file) const { return (dir_ / file).string(); }

public:
    static std::string read_file(std::string const& file) {
        std::ifstream in(file, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    static void write_file(std::string const& file, std::string const& bytes) {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    }

protected:
    std::string name_;
    std::filesystem::path dir_;
};

#if !defined(_WIN32)
// Forks `processes` children; each runs draw(i) `draws` times and sends the values back through
// a pipe. Returns every child's values, in the order it drew them.
inline std::vector<std::vector<std::uint64_t>>
draw_in_processes(int processes, std::size_t draws, std::function<std::uint64_t()> const& draw) {
    std::vector<std::vector<std::uint64_t>> results(static_cast<std::size_t>(processes));
    std::vector<int> fds;
    std::vector<pid_t> pids;
    for (int p = 0; p < processes; ++p) {
        int fd[2];
        if (pipe(fd) != 0) {
            ADD_FAILURE() << "pipe failed";
            return results;
        }
        const pid_t pid = fork();
        if (pid == 0) {
            close(fd[0]);
            std::vector<std::uint64_t> values(draws);
            for (auto& v : values) {
                v = draw();
            }
            const char* bytes = reinterpret_cast<const char*>(values.data());
            std::size_t left = values.size() * sizeof(std::uint64_t);
            while (left > 0) {
                const ssize_t n = write(fd[1], bytes, left);
                if (n <= 0) {
                    _exit(2);
                }
                bytes += n;
                left -= static_cast<std::size_t>(n);
            }
            _exit(0);
        }
        close(fd[1]);
        fds.push_back(fd[0]);
        pids.push_back(pid);
    }
    for (std::size_t p = 0; p < fds.size(); ++p) {
        results[p].resize(draws);
        char* bytes = reinterpret_cast<char*>(results[p].data());
        std::size_t left = draws * sizeof(std::uint64_t);
        while (left > 0) {
            const ssize_t n = read(fds[p], bytes, left);
            if (n <= 0) {
                break;
            }
            bytes += n;
            left -= static_cast<std::size_t>(n);
        }
        close(fds[p]);
        int status = 0;
        waitpid(pids[p], &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << p;
        EXPECT_EQ(left, 0u) << "child " << p << " sent too few values";
    }
    return results;
}

#endif

// Puts `value` in a region page's value field, as the page stores it: its distance below the
// region's end mark (detail::stored_value), which its kind (offset 12) and interval (24) give.
inline void set_value(std::string& page, std::uint64_t value) {
    std::uint32_t kind = 0;
    std::uint64_t interval = 0;
    std::memcpy(&kind, &page[12], sizeof kind);
    std::memcpy(&interval, &page[24], sizeof interval);
    const std::uint64_t stored = atomic_counter::detail::end_mark(kind, interval) - value;
    std::memcpy(&page[128], &stored, sizeof stored);
}

// Makes a region page read as one the disk gave back after a reboot: the boot recorded in it is
// not this one (offset 208, two words).
inline void simulate_reboot(std::string& page) {
    const std::uint64_t other_boot[2] = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
    std::memcpy(&page[208], other_boot, sizeof other_boot);
}

inline void expect_unique_and_increasing(std::vector<std::vector<std::uint64_t>> const& runs) {
    std::vector<std::uint64_t> all;
    for (std::size_t r = 0; r < runs.size(); ++r) {
        for (std::size_t i = 1; i < runs[r].size(); ++i) {
            ASSERT_LT(runs[r][i - 1], runs[r][i]) << "caller " << r << " went backwards at " << i;
        }
        all.insert(all.end(), runs[r].begin(), runs[r].end());
    }
    std::sort(all.begin(), all.end());
    const auto dup = std::adjacent_find(all.begin(), all.end());
    ASSERT_EQ(dup, all.end()) << "duplicate " << *dup;
}

#endif  // ATOMIC_COUNTER_TESTS_SHARED_TEST_UTIL_HPP
