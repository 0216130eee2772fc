// atomic_counter/time_counter.hpp: `time_counter`, lock-free ids that are their own timestamps.
//
// Use it for event ids that sort by creation time and decode back to the microsecond they were
// drawn in. The layout is the original atomic-counter's, bit for bit, so ids continue its
// sequences:
//
//    63                                                   12 11          0
//   +-------------------------------------------------------+-------------+
//   |  microseconds since 1970-01-01T00:00:00Z (low 52 bits) |  sequence   |
//   +-------------------------------------------------------+-------------+
//
// 52 bits of microseconds last until 2112-09-17; the values pass 2^63 - 1 (the signed int64
// limit) in 2041.
//
// Invariants
// - A new counter holds (now_us << 12) | 2048: the middle of the sequence range, so it starts
//   above any id a previous counter drew in the same microsecond with sequence < 2048.
// - next() returns (now_us << 12) | 0 when the clock's microsecond is later than the last
//   value's, and last + 1 otherwise. So every value is strictly greater than the one before it,
//   whatever the clock does: when the clock steps back, or more than 4096 ids are drawn within
//   one microsecond, the sequence carries into the following microsecond ("borrows" from it)
//   and the counter runs ahead of the wall clock. lead_us() reports by how much.
// - Every next() is one compare-exchange on `value_`, so concurrent callers receive distinct
//   values and each caller's successive values strictly increase.
// - The only failure is the value 2^64 - 1 itself (after the year 2112, or a clock set there):
//   next() then throws std::overflow_error instead of wrapping.
#ifndef ATOMIC_COUNTER_TIME_COUNTER_HPP
#define ATOMIC_COUNTER_TIME_COUNTER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

#include "clock.hpp"
#include "detail/error.hpp"

namespace atomic_counter {

template <class Clock = system_clock>
class basic_time_counter {
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "atomic_counter needs lock-free 64-bit atomics");

public:
    using clock_type = Clock;

    static constexpr unsigned sequence_bits = 12;
    static constexpr unsigned timestamp_bits = 64 - sequence_bits;
    static constexpr std::uint64_t sequence_mask = (std::uint64_t{1} << sequence_bits) - 1;
    static constexpr std::uint64_t timestamp_mask = (std::uint64_t{1} << timestamp_bits) - 1;
    static constexpr std::uint64_t initial_sequence = (sequence_mask + 1) / 2;
    static constexpr std::uint64_t max_value = std::numeric_limits<std::uint64_t>::max();

    explicit basic_time_counter(Clock clock = Clock{})
        : clock_(std::move(clock)), value_(encode(now_us(), initial_sequence)) {}

    basic_time_counter(basic_time_counter const&) = delete;
    basic_time_counter& operator=(basic_time_counter const&) = delete;

    // The next id: strictly greater than every id this counter handed out before.
    // Throws std::overflow_error only when the last id is 2^64 - 1.
    std::uint64_t next() {
        const std::uint64_t fresh = encode(now_us(), 0);
        // Relaxed everywhere: the id is the only state and publishes nothing else; uniqueness and
        // per-thread order come from the compare-exchange's single modification order.
        std::uint64_t last = value_.load(std::memory_order_relaxed);
        std::uint64_t id = following(last, fresh, 1);
        while (!value_.compare_exchange_weak(last, id, std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
            id = following(last, fresh, 1);
        }
        return id;
    }

    // next() for a caller that already excludes every other caller of this counter (its own
    // mutex, or CPython's GIL): a plain load and store instead of a locked read-modify-write.
    // Calling it while another thread calls any drawing method of this counter is a race that
    // can hand out duplicates.
    std::uint64_t next_exclusive() {
        const std::uint64_t fresh = encode(now_us(), 0);
        // Relaxed: the caller's exclusion (a mutex or the GIL) orders this against other calls.
        const std::uint64_t id = following(value_.load(std::memory_order_relaxed), fresh, 1);
        value_.store(id, std::memory_order_relaxed);
        return id;
    }

    // Draws n consecutive ids with one compare-exchange and writes them to out[0, n). The first
    // is what next() would return; the rest follow it by 1, borrowing from later microseconds
    // (n / 4096 of them at most, visible in lead_us()). Throws std::overflow_error, writing
    // nothing, if the last id would pass 2^64 - 1.
    void next_many(std::uint64_t* out, std::size_t n) {
        if (n == 0) {
            return;
        }
        const std::uint64_t fresh = encode(now_us(), 0);
        // Relaxed: as next(); the block is private to this caller once the exchange succeeds.
        std::uint64_t last = value_.load(std::memory_order_relaxed);
        std::uint64_t final_id = following(last, fresh, n);
        while (!value_.compare_exchange_weak(last, final_id, std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
            final_id = following(last, fresh, n);
        }
        const std::uint64_t first = final_id - (n - 1);
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = first + i;
        }
    }

    // The last id handed out (or the start value before any draw).
    // Relaxed: a single-value snapshot; coherence keeps it no older than this thread's last draw.
    std::uint64_t current() const noexcept { return value_.load(std::memory_order_relaxed); }

    // How many microseconds the last id's timestamp runs ahead of the clock now: 0 in normal
    // operation, positive after the clock stepped back or a burst borrowed from later
    // microseconds. Ids stay unique and increasing either way; a growing lead is the signal
    // that ids no longer reflect the time they were drawn.
    std::uint64_t lead_us() const noexcept {
        const std::uint64_t last_us = decode_timestamp_microseconds(current());
        const std::uint64_t now = now_us();
        return last_us > now ? last_us - now : 0;
    }

    static constexpr std::uint64_t decode_timestamp_microseconds(std::uint64_t id) noexcept {
        return id >> sequence_bits;
    }
    static constexpr std::uint64_t decode_sequence(std::uint64_t id) noexcept {
        return id & sequence_mask;
    }
    static constexpr std::uint64_t encode(std::uint64_t us, std::uint64_t sequence) noexcept {
        return ((us & timestamp_mask) << sequence_bits) | (sequence & sequence_mask);
    }

    clock_type const& clock() const noexcept { return clock_; }

private:
    // The last of `count` ids drawn after `last` when the clock reads `fresh` (now_us << 12):
    // the first is fresh if that is later than last, last + 1 otherwise; the rest follow by 1.
    static std::uint64_t following(std::uint64_t last, std::uint64_t fresh, std::uint64_t count) {
        const std::uint64_t after = fresh > last ? fresh - 1 : last;
        if (ATOMIC_COUNTER_UNLIKELY(max_value - after < count)) {
            on_overflow();
        }
        return after + count;
    }

    std::uint64_t now_us() const noexcept { return (clock_.now_ns() / 1000) & timestamp_mask; }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_overflow() {
        detail::on_error_overflow(
            "atomic_counter::time_counter::next: the ids would pass 2**64 - 1 (past the year "
            "2112, or a clock set there); the counter keeps its value");
    }

    Clock clock_;
    std::atomic<std::uint64_t> value_;
};

using time_counter = basic_time_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_TIME_COUNTER_HPP
