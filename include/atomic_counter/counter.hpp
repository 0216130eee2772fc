// atomic_counter/counter.hpp: `counter`, a lock-free 64-bit sequence that starts at the time
// elapsed since a base and advances by a fixed interval on every draw.
//
// Use it for ids that must stay unique and increasing within one process and should continue
// above the previous run's after a restart: a counter created later starts from a later clock
// reading, so as long as ids were drawn no faster than one interval per nanosecond of clock time,
// a new counter starts above every id the old one handed out.
//
//   value (64 bits, unsigned)
//   +---------------------------------------------------------------+
//   |  now_ns - base_ns at construction, + interval per next() call  |
//   +---------------------------------------------------------------+
//
// Invariants
// - `value_` only changes by next() (adds interval_) and set() (the caller's explicit override).
// - next() never wraps: when value + interval would pass 2^64 - 1 it throws std::overflow_error
//   and the value stays as it was, so no caller ever receives a value twice.
// - Every successful next() is one compare-exchange on `value_`; all of them form a single total
//   order (the atomic's modification order), so concurrent callers receive distinct values and
//   each caller's successive values strictly increase.
#ifndef ATOMIC_COUNTER_COUNTER_HPP
#define ATOMIC_COUNTER_COUNTER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "clock.hpp"
#include "detail/error.hpp"

namespace atomic_counter {

// The original atomic-counter's base, bit-identical so sequences continue across the switch:
// 2020-01-01T05:00:00Z (midnight in New York) in nanoseconds since the Unix epoch.
inline constexpr std::uint64_t default_base_ns = 1577854800000000000ULL;

template <class Clock = system_clock>
class basic_counter {
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "atomic_counter needs lock-free 64-bit atomics");

public:
    using clock_type = Clock;
    static constexpr std::uint64_t max_value = std::numeric_limits<std::uint64_t>::max();

    // Starts at now_ns - base_ns, where now_ns defaults to the clock's reading.
    // Throws std::invalid_argument when now_ns < base_ns or interval == 0.
    explicit basic_counter(std::uint64_t base_ns = default_base_ns,
                           std::optional<std::uint64_t> now_ns = std::nullopt,
                           std::uint64_t interval = 1, Clock clock = Clock{})
        : base_(base_ns), interval_(interval),
          value_(start_value(base_ns, now_ns ? *now_ns : clock.now_ns(), interval)) {}

    basic_counter(basic_counter const&) = delete;
    basic_counter& operator=(basic_counter const&) = delete;

    // Adds the interval and returns the new value.
    // Throws std::overflow_error, leaving the value unchanged, if that would pass 2^64 - 1.
    std::uint64_t next() {
        // Relaxed everywhere: the counter publishes no other memory, and uniqueness and per-thread
        // order come from the compare-exchange's single modification order, whatever the order.
        std::uint64_t value = value_.load(std::memory_order_relaxed);
        while (!value_.compare_exchange_weak(value, advance(value, 1), std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
        }
        return value + interval_;
    }

    // next() for a caller that already excludes every other caller of this counter (its own
    // mutex, or CPython's GIL): a plain load and store instead of a locked read-modify-write,
    // about 2 ns instead of 8.5 ns on x86. Calling it while another thread calls any drawing
    // method of this counter is a race that can hand out duplicates.
    std::uint64_t next_exclusive() {
        // Relaxed: the caller's exclusion (a mutex or the GIL) orders this against other calls.
        const std::uint64_t value = advance(value_.load(std::memory_order_relaxed), 1);
        value_.store(value, std::memory_order_relaxed);
        return value;
    }

    // Draws n values with one compare-exchange and writes them to out[0, n): exactly what n
    // calls of next() would have returned, in increasing order. Throws std::overflow_error,
    // writing nothing and leaving the value unchanged, if the last would pass 2^64 - 1.
    void next_many(std::uint64_t* out, std::size_t n) {
        if (n == 0) {
            return;
        }
        // Relaxed: as next(); the block is private to this caller once the exchange succeeds.
        std::uint64_t value = value_.load(std::memory_order_relaxed);
        while (!value_.compare_exchange_weak(value, advance(value, n), std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
        }
        for (std::size_t i = 0; i < n; ++i) {
            value += interval_;
            out[i] = value;
        }
    }

    // The last value handed out (or the start value before any draw).
    // Relaxed: a single-value snapshot; coherence keeps it no older than this thread's last draw.
    std::uint64_t current() const noexcept { return value_.load(std::memory_order_relaxed); }

    // Overrides the value; the next draw returns value + interval. Setting a lower value lets
    // the counter reissue values: that is the caller's explicit decision.
    // Relaxed: as current(); later draws are ordered after it by the modification order.
    void set(std::uint64_t value) noexcept { value_.store(value, std::memory_order_relaxed); }

    std::uint64_t base() const noexcept { return base_; }
    std::uint64_t interval() const noexcept { return interval_; }

private:
    static std::uint64_t start_value(std::uint64_t base_ns, std::uint64_t now_ns,
                                     std::uint64_t interval) {
        if (interval == 0) {
            detail::on_error_invalid_argument(
                "atomic_counter::counter: interval must be in [1, 2**64 - 1], got 0");
        }
        if (now_ns < base_ns) {
            detail::on_error_invalid_argument("atomic_counter::counter: now (" +
                                              std::to_string(now_ns) + ") must be >= base (" +
                                              std::to_string(base_ns) + ")");
        }
        return now_ns - base_ns;
    }

    // value + count * interval, or std::overflow_error if that passes 2^64 - 1.
    std::uint64_t advance(std::uint64_t value, std::uint64_t count) const {
        if (ATOMIC_COUNTER_UNLIKELY((max_value - value) / interval_ < count)) {
            on_overflow(value, count);
        }
        return value + count * interval_;
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_overflow(std::uint64_t value,
                                                          std::uint64_t count) const {
        detail::on_error_overflow("atomic_counter::counter::next: drawing " +
                                  std::to_string(count) + " more value(s) from " +
                                  std::to_string(value) + " with interval " +
                                  std::to_string(interval_) +
                                  " would pass 2**64 - 1; the counter keeps its value");
    }

    std::uint64_t base_;
    std::uint64_t interval_;
    std::atomic<std::uint64_t> value_;
};

using counter = basic_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_COUNTER_HPP
