// atomic_counter/layout.hpp: `layout`, the bit layout of a Snowflake-style id: time | node |
// sequence, with its epoch, its time unit and whether the top bit stays 0 (so the id fits a
// signed 64-bit integer: Postgres bigint, Java long, Arrow int64).
//
//    63 (62 when positive_int64)                                                 0
//   +---+--------------------------------+-----------------+--------------------+
//   | 0 |  ticks since epoch (time_bits) |  node (node_bits)| sequence (seq_bits)|
//   +---+--------------------------------+-----------------+--------------------+
//
// Use it with snowflake_counter to hand out ids that never collide across a fleet: each live
// process holds a distinct node id, and within a process ids strictly increase.
//
// Invariants
// - 1 <= time_bits, and time_bits + node_bits + sequence_bits <= 64 (63 when positive_int64),
//   each field <= 63 bits; tick_ns >= 1. The constructor throws std::invalid_argument otherwise.
// - pack() and decode() are inverse on every id within the layout's width; a field out of its
//   range, or an id with bits above the width, is std::invalid_argument, never truncated.
// - The "compressed" value (ticks << sequence_bits | sequence) orders ids of one node exactly as
//   the ids themselves: the generator counts in it, so a sequence that overflows within a tick
//   carries into the next tick and never into the node bits.
#ifndef ATOMIC_COUNTER_LAYOUT_HPP
#define ATOMIC_COUNTER_LAYOUT_HPP

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "detail/decode.hpp"
#include "detail/error.hpp"

namespace atomic_counter {

namespace detail {
// The id of the compressed value c (ticks << sequence_bits | sequence) on `node`: layout::expand,
// for the callers that hold the field widths without a layout (id_block).
constexpr std::uint64_t expand_compressed(std::uint64_t c, std::uint64_t node,
                                          unsigned sequence_bits, unsigned node_bits) noexcept {
    return ((c >> sequence_bits) << (node_bits + sequence_bits)) | (node << sequence_bits) |
           (c & ((std::uint64_t{1} << sequence_bits) - 1));
}
}  // namespace detail

struct id_parts {
    std::uint64_t ticks;  // time units since the layout's epoch
    std::uint64_t node;
    std::uint64_t sequence;
};

class layout {
public:
    // Throws std::invalid_argument for an impossible layout (see the invariants).
    layout(std::uint64_t epoch_ns, std::uint64_t tick_ns, unsigned time_bits, unsigned node_bits,
           unsigned sequence_bits, bool positive_int64)
        : epoch_ns_(epoch_ns), tick_ns_(tick_ns), time_bits_(time_bits), node_bits_(node_bits),
          sequence_bits_(sequence_bits), positive_int64_(positive_int64) {
        const unsigned width = positive_int64 ? 63 : 64;
        if (tick_ns == 0) {
            detail::on_error_invalid_argument("atomic_counter::layout: tick_ns must be >= 1");
        }
        if (time_bits == 0 || time_bits > 63 || node_bits > 63 || sequence_bits > 63 ||
            time_bits + node_bits + sequence_bits > width) {
            detail::on_error_invalid_argument(
                "atomic_counter::layout: time_bits (" + std::to_string(time_bits) +
                ") + node_bits (" + std::to_string(node_bits) + ") + sequence_bits (" +
                std::to_string(sequence_bits) + ") must be in [1, " + std::to_string(width) +
                "] with time_bits >= 1" + (positive_int64 ? " (the top bit stays 0)" : ""));
        }
    }

    // The original TimeCounter's: microseconds since 1970, 52 bits, no node, 12-bit sequence.
    static layout time_counter() { return {0, 1000, 52, 0, 12, false}; }
    // Twitter's Snowflake: ms since 2010-11-04T01:42:54.657Z, 41 | 10 | 12, top bit 0.
    static layout twitter() { return {1288834974657ULL * 1000000, 1000000, 41, 10, 12, true}; }
    // Discord's: ms since 2015-01-01, 41 | 10 (5 worker, 5 process) | 12, top bit 0.
    static layout discord() { return {1420070400000ULL * 1000000, 1000000, 41, 10, 12, true}; }
    // For int64 columns: ms since 2024-01-01, 41 | 10 | 12, top bit 0: positive until 2093.
    static layout int64() { return {1704067200000ULL * 1000000, 1000000, 41, 10, 12, true}; }
    // Below 2^53, exact as a JavaScript or JSON number: ms since 2024-01-01, 41 | 6 | 6.
    static layout js_safe() { return {1704067200000ULL * 1000000, 1000000, 41, 6, 6, true}; }

    std::uint64_t epoch_ns() const noexcept { return epoch_ns_; }
    std::uint64_t tick_ns() const noexcept { return tick_ns_; }
    unsigned time_bits() const noexcept { return time_bits_; }
    unsigned node_bits() const noexcept { return node_bits_; }
    unsigned sequence_bits() const noexcept { return sequence_bits_; }
    bool positive_int64() const noexcept { return positive_int64_; }
    unsigned width() const noexcept { return time_bits_ + node_bits_ + sequence_bits_; }

    std::uint64_t max_ticks() const noexcept { return mask(time_bits_); }
    std::uint64_t max_node() const noexcept { return mask(node_bits_); }
    std::uint64_t max_sequence() const noexcept { return mask(sequence_bits_); }
    std::uint64_t max_id() const noexcept { return mask(width()); }
    std::uint64_t max_compressed() const noexcept { return mask(time_bits_ + sequence_bits_); }

    // The id of (ticks since the epoch, node, sequence); Python's Layout.pack.
    std::uint64_t pack(std::uint64_t ticks, std::uint64_t node, std::uint64_t sequence) const {
        check_field("ticks", ticks, max_ticks());
        check_field("node", node, max_node());
        check_field("sequence", sequence, max_sequence());
        return (ticks << (node_bits_ + sequence_bits_)) | (node << sequence_bits_) | sequence;
    }

    // pack()'s name in 0.2.
    std::uint64_t encode(std::uint64_t ticks, std::uint64_t node, std::uint64_t sequence) const {
        return pack(ticks, node, sequence);
    }

    id_parts decode(std::uint64_t id) const {
        check_field("id", id, max_id());
        return {id >> (node_bits_ + sequence_bits_), (id >> sequence_bits_) & max_node(),
                id & max_sequence()};
    }

    // The start of the tick `ticks` in microseconds since 1970 (rounded down), exactly; false
    // when that is past 2^63 - 1, the range of int64 microsecond timestamps (numpy's
    // datetime64[us], Arrow's timestamp[us]), which only layouts with a far-future end reach.
    bool unix_us_of(std::uint64_t ticks, std::uint64_t* out) const noexcept {
        // (epoch_ns + ticks * tick_ns) / 1000 in parts that cannot overflow uint64:
        // ticks * (tick_ns / 1000) + (ticks / 1000) * (tick_ns % 1000) + epoch_ns / 1000
        //   + (epoch_ns % 1000 + (ticks % 1000) * (tick_ns % 1000)) / 1000.
        constexpr std::uint64_t top = (std::numeric_limits<std::int64_t>::max)();
        const std::uint64_t whole = tick_ns_ / 1000, part = tick_ns_ % 1000;
        if (whole != 0 && ticks > top / whole) {
            return false;
        }
        std::uint64_t us = ticks * whole;
        const auto add = [&](std::uint64_t term) {
            const bool fits = term <= top - us;
            us += fits ? term : 0;
            return fits;
        };
        // (ticks / 1000) * part < 2^64: at most (2^64 / 1000) * 999.
        if (!add((ticks / 1000) * part) || !add(epoch_ns_ / 1000) ||
            !add((epoch_ns_ % 1000 + (ticks % 1000) * part) / 1000)) {
            return false;
        }
        *out = us;
        return true;
    }

    // The largest id decode_many() takes: max_id(), or the last id of the last tick whose start
    // is at most 2^63 - 1 microseconds since 1970 (see unix_us_of).
    std::uint64_t max_decodable_id() const noexcept {
        std::uint64_t us = 0;
        if (unix_us_of(max_ticks(), &us)) {
            return max_id();
        }
        // unix_us_of is monotonic in ticks and holds at 0 (epoch_ns / 1000 < 2^63): the last
        // tick that fits, by bisection (at most 64 steps, for such layouts only).
        std::uint64_t fits = 0, past = max_ticks();
        while (past - fits > 1) {
            const std::uint64_t mid = fits + (past - fits) / 2;
            (unix_us_of(mid, &us) ? fits : past) = mid;
        }
        return (fits << (node_bits_ + sequence_bits_)) | (max_node() << sequence_bits_) |
               max_sequence();
    }

    // Decodes n ids into columns, for arrays and data frames: unix_us[i], the start of id i's
    // tick in microseconds since 1970 (unix_us_of), nodes[i] and sequences[i]. Every id is
    // checked before anything is written: one above max_decodable_id() throws
    // std::invalid_argument naming its index and value. The four arrays must not overlap.
    void decode_many(std::uint64_t const* ids, std::size_t n, std::int64_t* unix_us,
                     std::uint64_t* nodes, std::uint64_t* sequences) const {
        const std::uint64_t limit = max_decodable_id();
        const std::size_t bad = first_above(ids, n, limit);
        if (bad != n) {
            on_undecodable(bad, ids[bad], limit);
        }
        const unsigned time_shift = node_bits_ + sequence_bits_;
        const std::uint64_t node_mask = max_node(), sequence_mask = max_sequence();
        if (tick_ns_ % 1000 == 0) {
            // Whole microseconds per tick: one multiply-add, which no id can overflow (checked).
            const detail::column_decoder decoder{time_shift,    sequence_bits_,  node_mask,
                                                 sequence_mask, tick_ns_ / 1000, epoch_ns_ / 1000};
            detail::decode_columns(decoder, ids, n, unix_us, nodes, sequences);
            return;
        }
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t id = ids[i];
            std::uint64_t us = 0;
            unix_us_of(id >> time_shift, &us);  // holds: id <= max_decodable_id()
            unix_us[i] = static_cast<std::int64_t>(us);
            nodes[i] = (id >> sequence_bits_) & node_mask;
            sequences[i] = id & sequence_mask;
        }
    }

    // Ticks since the epoch at a Unix time in ns; 0 before the epoch (a badly set clock).
    std::uint64_t ticks_at(std::uint64_t unix_ns) const noexcept {
        return unix_ns < epoch_ns_ ? 0 : (unix_ns - epoch_ns_) / tick_ns_;
    }

    // The compressed value of an id (ticks << sequence_bits | sequence): the node removed.
    std::uint64_t compress(std::uint64_t id) const noexcept {
        return ((id >> (node_bits_ + sequence_bits_)) << sequence_bits_) | (id & max_sequence());
    }
    std::uint64_t node_of(std::uint64_t id) const noexcept {
        return (id >> sequence_bits_) & max_node();
    }
    // The id of a compressed value on a node (both in range).
    std::uint64_t expand(std::uint64_t compressed, std::uint64_t node) const noexcept {
        return detail::expand_compressed(compressed, node, sequence_bits_, node_bits_);
    }

    friend bool operator==(layout const& a, layout const& b) noexcept {
        return a.epoch_ns_ == b.epoch_ns_ && a.tick_ns_ == b.tick_ns_ &&
               a.time_bits_ == b.time_bits_ && a.node_bits_ == b.node_bits_ &&
               a.sequence_bits_ == b.sequence_bits_ && a.positive_int64_ == b.positive_int64_;
    }

private:
    static constexpr std::uint64_t mask(unsigned bits) noexcept {
        return bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    }

    // The index of the first id above limit, or n. Bits above a whole-width limit (2^k - 1) are
    // found by or-ing the ids, which vectorizes: the common case costs one pass at memory speed.
    static std::size_t first_above(std::uint64_t const* ids, std::size_t n,
                                   std::uint64_t limit) noexcept {
        if (limit == ~std::uint64_t{0}) {
            return n;
        }
        if ((limit & (limit + 1)) == 0) {
            std::uint64_t any = 0;
            for (std::size_t i = 0; i < n; ++i) {
                any |= ids[i];
            }
            if (any <= limit) {
                return n;
            }
        }
        std::size_t i = 0;
        while (i < n && ids[i] <= limit) {
            ++i;
        }
        return i;
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_undecodable(std::size_t index, std::uint64_t id,
                                                             std::uint64_t limit) const {
        std::string why = "ids must be in [0, " + std::to_string(limit) + "]";
        if (limit != max_id()) {
            why += ", the ids whose time is at most 2**63 - 1 microseconds since 1970 (the range "
                   "of int64 timestamps)";
        }
        why += "; ids[" + std::to_string(index) + "] is " + std::to_string(id);
        if (id >> 63 != 0) {  // what a negative int64 id reads as
            why += " (" +
                   std::to_string(static_cast<std::int64_t>(id - (std::uint64_t{1} << 63)) +
                                  (std::numeric_limits<std::int64_t>::min)()) +
                   " as int64)";
        }
        detail::on_error_invalid_argument("atomic_counter::layout::decode_many: " + why);
    }

    static void check_field(char const* what, std::uint64_t value, std::uint64_t max) {
        if (value > max) {
            detail::on_error_invalid_argument(std::string("atomic_counter::layout: ") + what +
                                              " must be in [0, " + std::to_string(max) + "], got " +
                                              std::to_string(value));
        }
    }

    std::uint64_t epoch_ns_;
    std::uint64_t tick_ns_;
    unsigned time_bits_;
    unsigned node_bits_;
    unsigned sequence_bits_;
    bool positive_int64_;
};

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_LAYOUT_HPP
