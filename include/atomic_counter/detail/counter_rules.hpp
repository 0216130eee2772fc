// atomic_counter/detail/counter_rules.hpp: the arithmetic of a Counter, drawn from an atomic that
// lives elsewhere: inside atomic_counter::counter, or in a region of shared memory that several
// processes map (atomic_counter::shared_counter). The invariants are in counter.hpp.
#ifndef ATOMIC_COUNTER_DETAIL_COUNTER_RULES_HPP
#define ATOMIC_COUNTER_DETAIL_COUNTER_RULES_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "../id_block.hpp"
#include "atomic_update.hpp"
#include "error.hpp"

namespace atomic_counter::detail {

class counter_rules {
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "atomic_counter needs lock-free 64-bit atomics");

public:
    static constexpr std::uint64_t max_value = (std::numeric_limits<std::uint64_t>::max)();
    // Intervals of headroom kept below 2^64 - 1 in headroom mode, and the largest interval that
    // mode takes (so the headroom, interval << headroom_bits, stays below 2^63).
    static constexpr unsigned headroom_bits = 32;
    static constexpr std::uint64_t max_headroom_interval = std::uint64_t{1} << 31;

    // `name` prefixes error messages ("atomic_counter::counter"); it must outlive the rules.
    // Throws std::invalid_argument for interval 0.
    counter_rules(std::uint64_t interval, char const* name)
        : interval_(checked_interval(interval, name)), limit_(limit_for(interval)), name_(name) {}

    static constexpr std::uint64_t limit_for(std::uint64_t interval) noexcept {
        return interval <= max_headroom_interval ? max_value - (interval << headroom_bits)
                                                 : max_value - interval;
    }

    // now - base, or std::invalid_argument naming both when now < base.
    std::uint64_t start_value(std::uint64_t base, std::uint64_t now) const {
        if (now < base) {
            on_error_invalid_argument(std::string(name_) + ": now (" + std::to_string(now) +
                                      ") must be >= base (" + std::to_string(base) + ")");
        }
        return now - base;
    }

    template <class Value>
    std::uint64_t next(Value& value) const {
        if (ATOMIC_COUNTER_UNLIKELY(interval_ > max_headroom_interval)) {
            return next_checked(value);
        }
        // Relaxed: see atomic_update.hpp (the argument holds for fetch_add too). Checking the
        // value the add returns, not a load before it, keeps the hot path at one locked
        // instruction with no dependency on the previous draw's store.
        const std::uint64_t old = value.fetch_add(interval_, std::memory_order_relaxed);
        if (ATOMIC_COUNTER_UNLIKELY(old > limit_)) {
            // Past the limit: take the add back (relaxed, as above) and refuse.
            value.fetch_sub(interval_, std::memory_order_relaxed);
            on_overflow(old, 1);
        }
        return old + interval_;
    }

    template <class Value>
    std::uint64_t next_exclusive(Value& value) const {
        // Relaxed: the caller's exclusion (a mutex or the GIL) orders this against other calls.
        const std::uint64_t old = value.load(std::memory_order_relaxed);
        if (ATOMIC_COUNTER_UNLIKELY(old > limit_)) {
            on_overflow(old, 1);
        }
        value.store(old + interval_, std::memory_order_relaxed);
        return old + interval_;
    }

    // Reserves n values with one compare-exchange; nothing at all if it throws.
    template <class Value>
    id_block next_block(Value& value, std::size_t n) const {
        if (n == 0) {
            return {};
        }
        // Relaxed (see atomic_update.hpp); the block is private to this caller once reserved.
        const std::uint64_t last =
            fetch_update(value, [&](std::uint64_t old) { return advance(old, n); });
        return id_block::progression(last - (n - 1) * interval_, interval_, n);
    }

    // std::invalid_argument unless v may be stored by set() or advance_to() (v <= limit).
    void check_set(std::uint64_t v, char const* method = "set", char const* arg = "val") const {
        if (v > limit_) {
            on_error_invalid_argument(std::string(name_) + "::" + method + ": " + arg + " (" +
                                      std::to_string(v) + ") must be in [0, " +
                                      std::to_string(limit_) + "]");
        }
    }

    // Raises the value to v unless it is already there or beyond: an atomic maximum, which never
    // moves the counter backwards, so it never lets a value be drawn twice. v <= limit (checked
    // by the caller with check_set).
    template <class Value>
    static void advance_to(Value& value, std::uint64_t v) noexcept {
        fetch_max(value, v);  // relaxed: see atomic_update.hpp
    }

    // set() for a counter other processes draw from while the caller waited (an msync): stores
    // v if the value is still `seen`, the value the call began with; if draws moved it since,
    // raises it to v at most (advance_to), so values drawn during the call are never drawn again.
    template <class Value>
    static void set_unless_moved(Value& value, std::uint64_t seen, std::uint64_t v) noexcept {
        // Relaxed: as next().
        if (!value.compare_exchange_strong(seen, v, std::memory_order_relaxed,
                                           std::memory_order_relaxed)) {
            advance_to(value, v);
        }
    }

    std::uint64_t interval() const noexcept { return interval_; }
    std::uint64_t limit() const noexcept { return limit_; }

private:
    static std::uint64_t checked_interval(std::uint64_t interval, char const* name) {
        if (interval == 0) {
            on_error_invalid_argument(std::string(name) +
                                      ": interval must be in [1, 2**64 - 1], got 0");
        }
        return interval;
    }

    // The exact compare-exchange draw, for intervals too large for headroom mode.
    template <class Value>
    ATOMIC_COUNTER_NOINLINE std::uint64_t next_checked(Value& value) const {
        return fetch_update(value, [&](std::uint64_t old) { return advance(old, 1); });
    }

    // old + count * interval, or std::overflow_error unless the block ends at most where a
    // single draw from limit_ would (limit_ + interval, never past 2^64 - 1), which keeps the
    // headroom for racing single draws.
    std::uint64_t advance(std::uint64_t old, std::uint64_t count) const {
        if (ATOMIC_COUNTER_UNLIKELY(old > limit_ ||
                                    (limit_ + interval_ - old) / interval_ < count)) {
            on_overflow(old, count);
        }
        return old + count * interval_;
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_overflow(std::uint64_t old,
                                                          std::uint64_t count) const {
        on_error_overflow(std::string(name_) + "::next: drawing " + std::to_string(count) +
                          " value(s) from " + std::to_string(old) + " with interval " +
                          std::to_string(interval_) + " would pass the counter's limit " +
                          std::to_string(limit_) +
                          " (headroom below 2**64 - 1); the counter keeps its value");
    }

    std::uint64_t interval_;
    std::uint64_t limit_;
    char const* name_;
};

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_COUNTER_RULES_HPP
