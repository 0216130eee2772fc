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
// - A clock reading past the layout's end (2112-09-17) is refused with std::overflow_error, at
//   construction and at every draw, instead of being masked to 52 bits (which would wrap the ids
//   back to 1970). The only other failure is the value 2^64 - 1 itself: next() then throws
//   std::overflow_error instead of wrapping.
#ifndef ATOMIC_COUNTER_TIME_COUNTER_HPP
#define ATOMIC_COUNTER_TIME_COUNTER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "clock.hpp"
#include "detail/time_rules.hpp"
#include "id_block.hpp"

namespace atomic_counter {

// The draw rule lives in detail/time_rules.hpp, shared with shared_time_counter.
template <class Clock = system_clock>
class basic_time_counter {
    using rules = detail::time_rules;

public:
    using clock_type = Clock;

    static constexpr unsigned sequence_bits = rules::sequence_bits;
    static constexpr unsigned timestamp_bits = rules::timestamp_bits;
    static constexpr std::uint64_t sequence_mask = rules::sequence_mask;
    static constexpr std::uint64_t timestamp_mask = rules::timestamp_mask;
    static constexpr std::uint64_t initial_sequence = rules::initial_sequence;
    static constexpr std::uint64_t max_value = rules::max_value;

    // Throws std::overflow_error when the clock is past the layout's end (2112-09-17).
    explicit basic_time_counter(Clock clock = Clock{})
        : clock_(std::move(clock)), value_(rules::start_value(now_us())) {}

    basic_time_counter(basic_time_counter const&) = delete;
    basic_time_counter& operator=(basic_time_counter const&) = delete;

    // The next id: strictly greater than every id this counter handed out before.
    // Throws std::overflow_error only when no larger id exists (past the year 2112).
    std::uint64_t next() { return rules::next(value_, now_us()); }

    // next() for a caller that already excludes every other caller of this counter (its own
    // mutex, or CPython's GIL): a plain load and store instead of a locked read-modify-write.
    // Calling it while another thread calls any drawing method of this counter is a race that
    // can hand out duplicates.
    std::uint64_t next_exclusive() { return rules::next_exclusive(value_, now_us()); }

    // Draws n consecutive ids with one compare-exchange and writes them to out[0, n). The first
    // is what next() would return; the rest follow it by 1, borrowing from later microseconds
    // (n / 4096 of them at most, visible in lead_us()). Throws std::overflow_error, writing
    // nothing, if the last id would pass 2^64 - 1.
    void next_many(std::uint64_t* out, std::size_t n) { next_block(n).write(out); }

    // next_many()'s draw without the writing: the n ids, reserved, as an id_block to write out
    // later (outside the caller's lock). Throws as next_many().
    id_block next_block(std::size_t n) { return rules::next_block(value_, now_us(), n); }

    // Raises the last id to `id` unless it is already there or beyond, so that every later id
    // is above it: for continuing above ids handed out elsewhere (a previous run's, restored
    // from a database). Never moves backwards, so it never lets an id be drawn twice.
    void advance_to(std::uint64_t id) noexcept { rules::advance_to(value_, id); }

    // The last id handed out (or the start value before any draw).
    // Relaxed: a single-value snapshot; coherence keeps it no older than this thread's last draw.
    std::uint64_t current() const noexcept { return value_.load(std::memory_order_relaxed); }

    // How many microseconds the last id's timestamp runs ahead of the clock now: 0 in normal
    // operation, positive after the clock stepped back or a burst borrowed from later
    // microseconds. Ids stay unique and increasing either way; a growing lead is the signal
    // that ids no longer reflect the time they were drawn.
    std::uint64_t lead_us() const noexcept { return rules::lead_us(current(), now_us()); }

    static constexpr std::uint64_t decode_timestamp_microseconds(std::uint64_t id) noexcept {
        return rules::decode_timestamp_microseconds(id);
    }
    static constexpr std::uint64_t decode_sequence(std::uint64_t id) noexcept {
        return rules::decode_sequence(id);
    }
    // The id of (microseconds since 1970, sequence), both masked to their bits.
    static constexpr std::uint64_t pack(std::uint64_t us, std::uint64_t sequence) noexcept {
        return rules::pack(us, sequence);
    }
    // pack()'s name in 0.2.
    static constexpr std::uint64_t encode(std::uint64_t us, std::uint64_t sequence) noexcept {
        return pack(us, sequence);
    }

    clock_type const& clock() const noexcept { return clock_; }

private:
    std::uint64_t now_us() const noexcept { return rules::us_from_ns(clock_.now_ns()); }

    Clock clock_;
    std::atomic<std::uint64_t> value_;
};

using time_counter = basic_time_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_TIME_COUNTER_HPP
