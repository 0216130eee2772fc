// atomic_counter/id_block.hpp: `id_block`, n ids that one atomic step of a counter has reserved
// for one caller, not yet written out. Every counter's next_block(n) returns one, and its
// next_many(out, n) is next_block(n).write(out).
//
// Use it to draw under a lock (or CPython's GIL) and write outside it: the reservation is the
// only step that touches the counter; writing the ids is arithmetic on the block alone, which
// needs neither the counter nor the lock, and may run later or on another thread.
//
//   id i of the block, i in [0, size()):   expand(first + i * step)
//   expand(c) = c                                      node_bits == 0 (counter, time_counter,
//                                                      the shared ones)
//   expand(c) = (c >> sb) << (nb + sb) | node << sb    snowflake ids: c is the compressed value
//               | (c & (2^sb - 1))                     ticks << sb | sequence (see layout.hpp)
//
// Invariants
// - A block holds exactly the ids its counter's reservation took: nobody else receives them, and
//   they strictly increase (no counter reserves a block that wraps past 2^64 - 1).
// - write() is pure arithmetic modulo 2^64 over the fields; it reads no counter, so it is
//   correct however long after the reservation it runs and whatever the counter did since.
// - Snowflake blocks have step 1: within one tick the ids are consecutive integers, so they are
//   written as runs of consecutive ids (at most 2^sb long) at the speed of a plain fill.
#ifndef ATOMIC_COUNTER_ID_BLOCK_HPP
#define ATOMIC_COUNTER_ID_BLOCK_HPP

#include <cstddef>
#include <cstdint>

#include "detail/fill.hpp"
#include "layout.hpp"

namespace atomic_counter {

class id_block {
public:
    // No ids.
    id_block() noexcept = default;

    // first, first + step, ..., first + (n - 1) * step.
    static id_block progression(std::uint64_t first, std::uint64_t step, std::size_t n) noexcept {
        id_block b;
        b.first_ = first;
        b.step_ = step;
        b.size_ = n;
        return b;
    }

    // The ids of the compressed values first, first + 1, ..., first + n - 1 on `node` of a
    // layout with sequence_bits and node_bits (node_bits + sequence_bits < 64).
    static id_block on_node(std::uint64_t first, std::size_t n, unsigned sequence_bits,
                            unsigned node_bits, std::uint64_t node) noexcept {
        id_block b = progression(first, 1, n);
        b.sequence_bits_ = sequence_bits;
        b.node_bits_ = node_bits;
        b.node_ = node;
        return b;
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    // Id i of the block, i < size().
    std::uint64_t operator[](std::size_t i) const noexcept { return expand(first_ + i * step_); }
    // The last (largest) id; the block must not be empty.
    std::uint64_t back() const noexcept { return (*this)[size_ - 1]; }

    // Writes the ids to out[0, size()).
    void write(std::uint64_t* out) const noexcept {
        if (node_bits_ == 0) {
            detail::fill_progression(out, size_, first_, step_);
            return;
        }
        // Runs of consecutive ids, one per tick (the sequence part of c wraps to the next tick).
        const std::uint64_t sequence_mask = (std::uint64_t{1} << sequence_bits_) - 1;
        std::uint64_t c = first_;
        std::size_t left = size_;
        while (left != 0) {
            const std::uint64_t in_tick = sequence_mask - (c & sequence_mask) + 1;
            const std::size_t run = in_tick < left ? static_cast<std::size_t>(in_tick) : left;
            detail::fill_progression(out, run, expand(c), 1);
            out += run;
            c += run;
            left -= run;
        }
    }

private:
    std::uint64_t expand(std::uint64_t c) const noexcept {
        return node_bits_ == 0 ? c
                               : detail::expand_compressed(c, node_, sequence_bits_, node_bits_);
    }

    std::uint64_t first_ = 0;
    std::uint64_t step_ = 1;
    std::size_t size_ = 0;
    unsigned sequence_bits_ = 0;
    unsigned node_bits_ = 0;
    std::uint64_t node_ = 0;
};

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_ID_BLOCK_HPP
