// atomic_counter/snowflake_counter.hpp: `snowflake_counter`, ids of a `layout` for one node:
// unique across a fleet whose live processes hold distinct node ids, strictly increasing within
// the process, lock-free across threads.
//
// The rule is TimeCounter's (detail/borrow_rule.hpp), in the layout's "compressed" value
// (ticks << sequence_bits | sequence, see layout.hpp): a draw returns (now_ticks, node, 0) when
// the clock's tick is later than the last id's, and the last id's successor otherwise, the
// sequence carrying into the next tick ("borrowing") instead of failing or sleeping; lead_ns()
// reports how far that runs ahead. A clock step backwards never makes an id go back.
//
// Leases (a node id held for a while, e.g. from Redis: atomic_counter/lease.py) add three limits.
// The lease owner moves two with extend(): a deadline on the monotonic clock after which no id is
// handed out (the lease might have expired: another process may hold the node), and a largest
// id (the high-water mark the lease recorded for its successor). The third, limit_lead(), caps
// how far ids may run ahead of the clock, so that after the store forgets everything a successor
// can still start above them. Crossing any of them throws lease_expired rather than risk a
// duplicate. rebind() moves the counter to another node, its next id above both everything it
// drew and the new node's recorded high-water mark; seal() stops it for good and returns an id
// at or above every id it handed out (what a lease records when it lets the node go).
//
// Invariants
// - state_ holds the last id, node bits included: every draw, rebind and seal is one
//   compare-exchange on it, so concurrent draws get distinct ids, each caller's ids increase, and
//   a rebind never interleaves with a draw's read of the node.
// - compress(next id) > compress(last id), and a rebind advances the compressed value by at
//   least one whole tick, so ids on the new node exceed every id on the old one.
// - With a lead limit, every id handed out has compressed value <= (now_ticks << sequence_bits)
//   + lead_span_, now_ticks read by that draw: its time is at most the lead limit past the clock.
// - After seal() returns s, no draw hands out an id >= s: a draw whose exchange succeeded came
//   before the seal's in the modification order (so its id < s); any later one fails its
//   exchange or reads state_ with acquire, sees the zeroed limits, and throws.
#ifndef ATOMIC_COUNTER_SNOWFLAKE_COUNTER_HPP
#define ATOMIC_COUNTER_SNOWFLAKE_COUNTER_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "clock.hpp"
#include "detail/atomic_update.hpp"
#include "detail/borrow_rule.hpp"
#include "detail/error.hpp"
#include "id_block.hpp"
#include "layout.hpp"

namespace atomic_counter {

namespace detail {
// CLOCK_MONOTONIC_COARSE where there is one: a few ns to read, a few ms of resolution, which the
// lease's safety margin (>= 100 ms) absorbs.
inline std::uint64_t monotonic_ns() noexcept {
#if defined(CLOCK_MONOTONIC_COARSE)
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
#else
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
#endif
}
}  // namespace detail

template <class Clock = system_clock>
class basic_snowflake_counter {
public:
    using clock_type = Clock;
    static constexpr std::uint64_t no_deadline = (std::numeric_limits<std::uint64_t>::max)();

    // Throws std::invalid_argument when node is out of the layout's range [0, max_node] or
    // floor_id is not an id of the layout. The first id is above floor_id's time and sequence.
    basic_snowflake_counter(layout const& l, std::uint64_t node, std::uint64_t floor_id = 0,
                            Clock clock = Clock{})
        : layout_(checked(l, node)), clock_(std::move(clock)), state_(start_id(node, floor_id)) {}

    basic_snowflake_counter(basic_snowflake_counter const&) = delete;
    basic_snowflake_counter& operator=(basic_snowflake_counter const&) = delete;

    // The next id. Throws std::overflow_error when the layout's time runs out, lease_expired
    // past the lease's deadline, high-water mark or lead limit.
    std::uint64_t next() {
        check_deadline();
        const std::uint64_t fresh = layout_.ticks_at(clock_.now_ns()) << layout_.sequence_bits();
        // Acquire (load and failed exchange): a draw that reads a sealed state sees the limits
        // seal() zeroed before it (see the invariants). Uniqueness and per-thread order come
        // from the compare-exchange's single modification order; nothing else is published.
        return detail::fetch_update(
            state_, [&](std::uint64_t last) { return following(last, fresh, 1); },
            std::memory_order_acquire, std::memory_order_acquire);
    }

    // n ids with one compare-exchange, written to out[0, n) in increasing order: the first is
    // what next() would return, the rest its successors (carrying across ticks). Nothing is
    // written if it throws.
    // With a lead limit, std::invalid_argument for an n that could never fit within it.
    void next_many(std::uint64_t* out, std::size_t n) { next_block(n).write(out); }

    // next_many()'s draw without the writing: the n ids, reserved, as an id_block to write out
    // later (outside the caller's lock). Throws as next_many().
    id_block next_block(std::size_t n) {
        if (n == 0) {
            return {};
        }
        // Relaxed: a limit set before this call is seen; one set during it applies to the next.
        const std::uint64_t span = lead_span_.load(std::memory_order_relaxed);
        if (ATOMIC_COUNTER_UNLIKELY(n - 1 > span)) {
            on_block_never_fits(n, span);
        }
        check_deadline();
        const std::uint64_t fresh = layout_.ticks_at(clock_.now_ns()) << layout_.sequence_bits();
        // Acquire: as next().
        const std::uint64_t final_id = detail::fetch_update(
            state_, [&](std::uint64_t last) { return following(last, fresh, n); },
            std::memory_order_acquire, std::memory_order_acquire);
        return id_block::on_node(layout_.compress(final_id) - (n - 1), n, layout_.sequence_bits(),
                                 layout_.node_bits(), layout_.node_of(final_id));
    }

    // The last id handed out (or the start before any draw). Relaxed: a snapshot.
    std::uint64_t current() const noexcept { return state_.load(std::memory_order_relaxed); }
    std::uint64_t node() const noexcept { return layout_.node_of(current()); }
    layout const& id_layout() const noexcept { return layout_; }

    // How far the last id's time runs ahead of the clock, in ns (0 when it does not).
    std::uint64_t lead_ns() const noexcept {
        const std::uint64_t last_ticks = layout_.compress(current()) >> layout_.sequence_bits();
        const std::uint64_t now_ticks = layout_.ticks_at(clock_.now_ns());
        return last_ticks > now_ticks ? (last_ticks - now_ticks) * layout_.tick_ns() : 0;
    }

    // Lease limits: no id after the monotonic time deadline_ns (detail::monotonic_ns()), none
    // above max_id. Release: a draw that sees the new deadline sees the new max_id.
    void extend(std::uint64_t deadline_ns, std::uint64_t max_id) noexcept {
        max_id_.store(max_id, std::memory_order_relaxed);
        deadline_ns_.store(deadline_ns, std::memory_order_release);
    }
    void revoke() noexcept { deadline_ns_.store(0, std::memory_order_release); }
    std::uint64_t deadline_ns() const noexcept {
        return deadline_ns_.load(std::memory_order_acquire);
    }

    // Caps how far ahead of the clock ids may run: no id's time more than lead_ns past the
    // clock's tick (whole ticks, rounded down, plus the rest of the current one). A lease sets it
    // so that a successor that knows nothing can still start above every id.
    void limit_lead(std::uint64_t lead_ns) noexcept {
        const std::uint64_t ticks = lead_ns / layout_.tick_ns();
        const std::uint64_t bits = layout_.sequence_bits();
        const std::uint64_t span = ticks > (layout_.max_compressed() >> bits)
                                       ? layout_.max_compressed()
                                       : (ticks << bits) | layout_.max_sequence();
        // Relaxed: a single value read on its own by each draw.
        lead_span_.store(span, std::memory_order_relaxed);
    }

    // The largest n that next_many() can ever hand out at once (the lead limit's span).
    std::uint64_t max_block() const noexcept {
        const std::uint64_t span = lead_span_.load(std::memory_order_relaxed);
        return span == (std::numeric_limits<std::uint64_t>::max)() ? span : span + 1;
    }

    // Stops the counter for good and returns an id at or above every id it handed out (see the
    // invariants): what a lease records as the node's high-water mark when it lets the node go.
    std::uint64_t seal() noexcept {
        // Relaxed: published by the release exchange below (draws read state_ with acquire).
        max_id_.store(0, std::memory_order_relaxed);
        deadline_ns_.store(0, std::memory_order_relaxed);
        // Release: a draw that reads the sealed state sees the zeroed limits. When no larger
        // id exists, the state stays as it is (no draw can succeed either).
        return detail::fetch_update(
            state_,
            [&](std::uint64_t last) {
                const std::uint64_t c = layout_.compress(last);
                return c >= layout_.max_compressed() ? last
                                                     : layout_.expand(c + 1, layout_.node_of(last));
            },
            std::memory_order_release, std::memory_order_relaxed);
    }

    // Moves to another node: the next id is above everything drawn so far (a whole tick later)
    // and above floor_id, the high-water mark recorded for that node. Throws
    // std::invalid_argument for a node out of range, std::overflow_error when time runs out.
    void rebind(std::uint64_t node, std::uint64_t floor_id) {
        checked(layout_, node);
        layout_.decode(floor_id);  // throws for an id wider than the layout
        const std::uint64_t floor = layout_.compress(floor_id);
        // Relaxed: the exchange orders the rebind among the draws.
        detail::fetch_update(state_, [&](std::uint64_t last) {
            const std::uint64_t seq_bits = layout_.sequence_bits();
            const std::uint64_t past_last = ((layout_.compress(last) >> seq_bits) + 1) << seq_bits;
            const std::uint64_t moved = past_last > floor ? past_last : floor;
            if (moved > layout_.max_compressed()) {
                on_overflow();
            }
            return layout_.expand(moved, node);
        });
    }

private:
    static layout const& checked(layout const& l, std::uint64_t node) {
        if (node > l.max_node()) {
            detail::on_error_invalid_argument(
                "atomic_counter::snowflake_counter: node must be in [0, " +
                std::to_string(l.max_node()) + "] for this layout, got " + std::to_string(node));
        }
        return l;
    }

    std::uint64_t start_id(std::uint64_t node, std::uint64_t floor_id) const {
        const std::uint64_t now = layout_.ticks_at(clock_.now_ns());
        if (now > layout_.max_ticks()) {
            on_overflow();
        }
        const std::uint64_t fresh = now << layout_.sequence_bits();
        layout_.decode(floor_id);  // throws for an id wider than the layout
        const std::uint64_t floor = layout_.compress(floor_id);
        return layout_.expand(fresh > floor ? fresh : floor, node);
    }

    void check_deadline() const {
        // Acquire: pairs with extend(), so the max_id read by following() is the new one.
        const std::uint64_t deadline = deadline_ns_.load(std::memory_order_acquire);
        if (deadline != no_deadline &&
            ATOMIC_COUNTER_UNLIKELY(detail::monotonic_ns() >= deadline)) {
            on_deadline_passed();
        }
    }

    // The id after `count` draws following `last` when the clock reads `fresh` (compressed).
    std::uint64_t following(std::uint64_t last, std::uint64_t fresh, std::uint64_t count) const {
        std::uint64_t position = 0;
        // A clock past the layout's end puts `fresh` itself out of range (found by fuzzing).
        if (ATOMIC_COUNTER_UNLIKELY(!detail::following_position(
                layout_.compress(last), fresh, count, layout_.max_compressed(), &position))) {
            on_overflow();
        }
        // Relaxed: see the invariants (the state was read with acquire).
        const std::uint64_t span = lead_span_.load(std::memory_order_relaxed);
        // position >= fresh (the rule never goes below the clock's tick), so this never wraps.
        if (ATOMIC_COUNTER_UNLIKELY(position - fresh > span)) {
            on_lead_exceeded(position - fresh);
        }
        const std::uint64_t id = layout_.expand(position, layout_.node_of(last));
        if (ATOMIC_COUNTER_UNLIKELY(id > max_id_.load(std::memory_order_relaxed))) {
            on_high_water_mark();
        }
        return id;
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_deadline_passed() {
        detail::on_error_lease_expired(
            "atomic_counter::snowflake_counter: the node lease could not be confirmed before it "
            "could have expired; no id is handed out until it is renewed");
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_high_water_mark() {
        detail::on_error_lease_expired(
            "atomic_counter::snowflake_counter: ids reached the high-water mark the lease "
            "recorded for this node (or the lease was closed); no id is handed out until the "
            "lease is renewed");
    }

    // `ahead`: how far the id would run past the clock, in compressed units.
    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_lead_exceeded(std::uint64_t ahead) const {
        const std::uint64_t ticks = ahead >> layout_.sequence_bits();
        const std::uint64_t limit_ticks =
            lead_span_.load(std::memory_order_relaxed) >> layout_.sequence_bits();
        detail::on_error_lease_expired(
            "atomic_counter::snowflake_counter: the next id would run " +
            std::to_string(ticks * layout_.tick_ns() / 1000000) +
            " ms ahead of the clock, past the lease's lead limit of " +
            std::to_string(limit_ticks * layout_.tick_ns() / 1000000) +
            " ms (a burst beyond the layout's " + std::to_string(layout_.max_sequence() + 1) +
            " ids per tick, or the clock stepped back); the clock catches up in " +
            std::to_string((ticks - limit_ticks) * layout_.tick_ns() / 1000000 + 1) + " ms");
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_block_never_fits(std::uint64_t n,
                                                                         std::uint64_t span) {
        detail::on_error_invalid_argument(
            "atomic_counter::snowflake_counter::next_many: n (" + std::to_string(n) +
            ") ids can never fit within the lease's lead limit; draw at most " +
            std::to_string(span + 1) + " at once");
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE static void on_overflow() {
        detail::on_error_overflow(
            "atomic_counter::snowflake_counter::next: the layout's time bits have run out (or "
            "the clock is set past its end); no larger id exists");
    }

    layout layout_;
    Clock clock_;
    std::atomic<std::uint64_t> deadline_ns_{no_deadline};
    std::atomic<std::uint64_t> max_id_{(std::numeric_limits<std::uint64_t>::max)()};
    std::atomic<std::uint64_t> lead_span_{(std::numeric_limits<std::uint64_t>::max)()};
    // Off the cache line of the fields above, read by every draw (see counter.hpp).
    char padding_[64] = {};
    std::atomic<std::uint64_t> state_;
};

using snowflake_counter = basic_snowflake_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_SNOWFLAKE_COUNTER_HPP
