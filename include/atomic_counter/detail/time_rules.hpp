// atomic_counter/detail/time_rules.hpp: the TimeCounter layout and its one draw rule, applied to
// an atomic that lives elsewhere: inside atomic_counter::time_counter, or in shared memory
// (atomic_counter::shared_time_counter). The invariants are in time_counter.hpp.
#ifndef ATOMIC_COUNTER_DETAIL_TIME_RULES_HPP
#define ATOMIC_COUNTER_DETAIL_TIME_RULES_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "../id_block.hpp"
#include "atomic_update.hpp"
#include "borrow_rule.hpp"
#include "error.hpp"

namespace atomic_counter::detail {

struct time_rules {
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "atomic_counter needs lock-free 64-bit atomics");

    static constexpr unsigned sequence_bits = 12;
    static constexpr unsigned timestamp_bits = 64 - sequence_bits;
    static constexpr std::uint64_t sequence_mask = (std::uint64_t{1} << sequence_bits) - 1;
    static constexpr std::uint64_t timestamp_mask = (std::uint64_t{1} << timestamp_bits) - 1;
    static constexpr std::uint64_t initial_sequence = (sequence_mask + 1) / 2;
    static constexpr std::uint64_t max_value = (std::numeric_limits<std::uint64_t>::max)();

    static constexpr std::uint64_t pack(std::uint64_t us, std::uint64_t sequence) noexcept {
        return ((us & timestamp_mask) << sequence_bits) | (sequence & sequence_mask);
    }
    static constexpr std::uint64_t decode_timestamp_microseconds(std::uint64_t id) noexcept {
        return id >> sequence_bits;
    }
    static constexpr std::uint64_t decode_sequence(std::uint64_t id) noexcept {
        return id & sequence_mask;
    }
    // Microseconds since 1970 at a clock reading in ns. Not masked: a reading past the layout's
    // end (2112-09-17) stays visibly too large, and the draws refuse it.
    static constexpr std::uint64_t us_from_ns(std::uint64_t ns) noexcept { return ns / 1000; }

    // The value a new counter holds: the current microsecond with sequence initial_sequence.
    // Throws std::overflow_error when the clock is past the layout's end.
    static std::uint64_t start_value(std::uint64_t now_us) {
        if (ATOMIC_COUNTER_UNLIKELY(now_us > timestamp_mask)) {
            on_clock_past_end();
        }
        return pack(now_us, initial_sequence);
    }

    // Raises the last id to v unless it is already there or beyond (an atomic maximum: the
    // counter never moves backwards), so the next id is above v.
    template <class Value>
    static void advance_to(Value& value, std::uint64_t v) noexcept {
        fetch_max(value, v);  // relaxed: see atomic_update.hpp
    }

    // How far the id `last` runs ahead of the microsecond `now_us`.
    static constexpr std::uint64_t lead_us(std::uint64_t last, std::uint64_t now_us) noexcept {
        const std::uint64_t last_us = decode_timestamp_microseconds(last);
        return last_us > now_us ? last_us - now_us : 0;
    }

    template <class Value>
    static std::uint64_t next(Value& value, std::uint64_t now_us) {
        const std::uint64_t fresh = fresh_at(now_us);
        // Relaxed: see atomic_update.hpp.
        return fetch_update(value,
                            [fresh](std::uint64_t last) { return following(last, fresh, 1); });
    }

    template <class Value>
    static std::uint64_t next_exclusive(Value& value, std::uint64_t now_us) {
        // Relaxed: the caller's exclusion (a mutex or the GIL) orders this against other calls.
        const std::uint64_t id =
            following(value.load(std::memory_order_relaxed), fresh_at(now_us), 1);
        value.store(id, std::memory_order_relaxed);
        return id;
    }

    // Reserves n consecutive ids with one compare-exchange; nothing at all if it throws.
    template <class Value>
    static id_block next_block(Value& value, std::uint64_t now_us, std::size_t n) {
        if (n == 0) {
            return {};
        }
        const std::uint64_t fresh = fresh_at(now_us);
        // Relaxed (see atomic_update.hpp); the block is private to this caller once reserved.
        const std::uint64_t last =
            fetch_update(value, [&](std::uint64_t prior) { return following(prior, fresh, n); });
        return id_block::progression(last - (n - 1), 1, n);
    }

    // The first id of the microsecond now_us (sequence 0), or std::overflow_error when the
    // clock is past the layout's end: masking it would wrap the ids back to 1970.
    static std::uint64_t fresh_at(std::uint64_t now_us) {
        if (ATOMIC_COUNTER_UNLIKELY(now_us > timestamp_mask)) {
            on_clock_past_end();
        }
        return now_us << sequence_bits;
    }

    // The last of `count` ids drawn after `last` when the clock reads `fresh` (now_us << 12), by
    // the borrowing rule (borrow_rule.hpp); std::overflow_error past 2^64 - 1.
    static std::uint64_t following(std::uint64_t last, std::uint64_t fresh, std::uint64_t count) {
        std::uint64_t id = 0;
        if (ATOMIC_COUNTER_UNLIKELY(!following_position(last, fresh, count, max_value, &id))) {
            on_overflow();
        }
        return id;
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_clock_past_end() {
        on_error_overflow(
            "atomic_counter::time_counter: the clock is past 2112-09-17T23:53:47Z, the end of "
            "the TimeCounter layout (52 bits of microseconds); no id exists for this time");
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_overflow() {
        on_error_overflow(
            "atomic_counter::time_counter::next: the ids would pass 2**64 - 1 (past the year "
            "2112, or a clock set there); the counter keeps its value");
    }
};

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_TIME_RULES_HPP
