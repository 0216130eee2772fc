// atomic_counter/counter.hpp: `counter`, a lock-free 64-bit sequence that starts at the time
// elapsed since a base and advances by a fixed interval on every draw.
//
// Use it for ids that must stay unique and increasing within one process and should continue
// above the previous run's after a restart: a counter created later starts from a later clock
// reading, so as long as ids were drawn no faster than one interval per nanosecond of clock time,
// a new counter starts above every id the old one handed out.
//
//   value (64 bits, unsigned)
//   +----------------------------------------------------------------+
//   |  now_ns - base_ns at construction, + interval per next() call   |
//   +----------------------------------------------------------------+
//   0                                        limit()       2^64 - 1
//   |---------------- values handed out --------|-- headroom --|
//
// Invariants (the arithmetic is detail/counter_rules.hpp's, shared with shared_counter; the
// headroom argument is in docs/design.md, "Counter")
// - `value_` only changes by draws (which add interval_ per value), set() and advance_to().
// - A draw starts only from a value <= limit_ (checked), else it throws std::overflow_error and
//   changes nothing. So no caller ever receives a wrapped value, i.e. a value twice.
// - Single draws are one fetch_add for intervals up to 2^31 ("headroom mode"), checked and
//   taken back afterwards; larger intervals, and bulk draws, are an exactly checked
//   compare-exchange (fetch_update).
// - All draws are read-modify-writes of one atomic, which form a single modification order: no
//   two draws start from the same value, and each caller's values strictly increase.
#ifndef ATOMIC_COUNTER_COUNTER_HPP
#define ATOMIC_COUNTER_COUNTER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "clock.hpp"
#include "detail/counter_rules.hpp"
#include "id_block.hpp"

namespace atomic_counter {

// The original atomic-counter's base, bit-identical so sequences continue across the switch:
// 2020-01-01T05:00:00Z (midnight in New York) in nanoseconds since the Unix epoch.
inline constexpr std::uint64_t default_base_ns = 1577854800000000000ULL;

template <class Clock = system_clock>
class basic_counter {
public:
    using clock_type = Clock;
    static constexpr std::uint64_t max_value = detail::counter_rules::max_value;
    static constexpr unsigned headroom_bits = detail::counter_rules::headroom_bits;
    static constexpr std::uint64_t max_headroom_interval =
        detail::counter_rules::max_headroom_interval;

    // Starts at now_ns - base_ns, where now_ns defaults to the clock's reading.
    // Throws std::invalid_argument when now_ns < base_ns or interval == 0.
    explicit basic_counter(std::uint64_t base_ns = default_base_ns,
                           std::optional<std::uint64_t> now_ns = std::nullopt,
                           std::uint64_t interval = 1, Clock clock = Clock{})
        : base_(base_ns), rules_(interval, "atomic_counter::counter"),
          value_(rules_.start_value(base_ns, now_ns ? *now_ns : clock.now_ns())) {}

    basic_counter(basic_counter const&) = delete;
    basic_counter& operator=(basic_counter const&) = delete;

    // Adds the interval and returns the new value. Throws std::overflow_error, changing nothing,
    // once the value has passed limit().
    std::uint64_t next() { return rules_.next(value_); }

    // next() for a caller that already excludes every other caller of this counter (its own
    // mutex, or CPython's GIL): a plain load and store instead of a locked read-modify-write.
    // Calling it while another thread calls any drawing method of this counter is a race that
    // can hand out duplicates.
    std::uint64_t next_exclusive() { return rules_.next_exclusive(value_); }

    // Draws n values with one compare-exchange and writes them to out[0, n): exactly what n
    // calls of next() would have returned, in increasing order. Throws std::overflow_error,
    // writing nothing and changing nothing, if the block would end past limit() + interval.
    void next_many(std::uint64_t* out, std::size_t n) { next_block(n).write(out); }

    // next_many()'s draw without the writing: the n values, reserved, as an id_block to write
    // out later (outside the caller's lock). Throws as next_many().
    id_block next_block(std::size_t n) { return rules_.next_block(value_, n); }

    // The last value handed out (or the start value before any draw).
    // Relaxed: a single-value snapshot; coherence keeps it no older than this thread's last draw.
    std::uint64_t current() const noexcept { return value_.load(std::memory_order_relaxed); }

    // Overrides the value (a plain store); the next draw returns value + interval. Setting a
    // lower value lets the counter reissue values: that is the caller's explicit decision (to
    // skip ahead without ever going back, use advance_to()). Throws std::invalid_argument for a
    // value above limit() (see the invariants).
    void set(std::uint64_t value) {
        rules_.check_set(value);
        // Relaxed: as current(); later draws are ordered after it by the modification order.
        value_.store(value, std::memory_order_relaxed);
    }

    // Raises the value to `value` unless it is already there or beyond (an atomic maximum), so
    // the next draw returns more than `value`: for skipping ahead while other threads draw.
    // Never moves backwards, so it never lets a value be drawn twice. Throws
    // std::invalid_argument for a value above limit().
    void advance_to(std::uint64_t value) {
        rules_.check_set(value, "advance_to", "value");
        detail::counter_rules::advance_to(value_, value);
    }

    std::uint64_t base() const noexcept { return base_; }
    std::uint64_t interval() const noexcept { return rules_.interval(); }
    // The largest value a draw may start from: draws hand out values up to limit() + interval,
    // never past 2^64 - 1.
    std::uint64_t limit() const noexcept { return rules_.limit(); }

private:
    std::uint64_t base_;
    detail::counter_rules rules_;
    // Keeps the fields above, read on every draw, off the cache line that concurrent draws
    // write: >= 64 bytes apart can never share a 64-byte line, whatever the object's alignment
    // (a Python object is only 16-byte aligned, so alignas(64) is not an option). Without it,
    // two threads drawing measured 1.3x a bare fetch_add; with it, 1.0x.
    char padding_[64] = {};
    std::atomic<std::uint64_t> value_;
};

using counter = basic_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_COUNTER_HPP
