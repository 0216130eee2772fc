// libFuzzer target: any layout parameters, any id, any clock. Checks: an impossible layout or
// out-of-range field is std::invalid_argument; decode inverts pack; a snowflake_counter's ids
// strictly increase, stay on their node and within the layout's width, whatever the clock does;
// the only other error is overflow when the layout's time has run out.
#include <atomic_counter/clock.hpp>
#include <atomic_counter/layout.hpp>
#include <atomic_counter/snowflake_counter.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "fuzz_util.hpp"

using fuzz::reader;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ac = atomic_counter;
    reader in{data, size};
    const std::uint64_t epoch = in.u64() >> (in.u8() % 64);
    const std::uint64_t tick = in.u64() >> (in.u8() % 64);
    const unsigned time_bits = in.u8() % 70, node_bits = in.u8() % 70, seq_bits = in.u8() % 70;
    const bool positive = in.u8() % 2;
    std::optional<ac::layout> l;
    try {
        l.emplace(epoch, tick, time_bits, node_bits, seq_bits, positive);
    } catch (std::invalid_argument const&) {
        const unsigned width = positive ? 63 : 64;
        FUZZ_CHECK(tick == 0 || time_bits == 0 || time_bits > 63 || node_bits > 63 ||
                   seq_bits > 63 || time_bits + node_bits + seq_bits > width);
        return 0;
    }
    // Round trips of arbitrary fields and ids.
    const std::uint64_t t = in.u64(), n = in.u64() >> (in.u8() % 64),
                        s = in.u64() >> (in.u8() % 64);
    try {
        const std::uint64_t id = l->pack(t, n, s);
        FUZZ_CHECK(t <= l->max_ticks() && n <= l->max_node() && s <= l->max_sequence());
        FUZZ_CHECK(id <= l->max_id());
        const ac::id_parts p = l->decode(id);
        FUZZ_CHECK(p.ticks == t && p.node == n && p.sequence == s);
        FUZZ_CHECK(l->expand(l->compress(id), n) == id);
    } catch (std::invalid_argument const&) {
        FUZZ_CHECK(t > l->max_ticks() || n > l->max_node() || s > l->max_sequence());
    }
    const std::uint64_t raw = in.u64();
    try {
        const ac::id_parts p = l->decode(raw);
        FUZZ_CHECK(l->pack(p.ticks, p.node, p.sequence) == raw);
    } catch (std::invalid_argument const&) {
        FUZZ_CHECK(raw > l->max_id());
    }
    // A generator under an arbitrary clock.
    const std::uint64_t node = l->max_node() == 0 ? 0 : in.u64() % (l->max_node() + 1);
    ac::manual_clock clock(in.u64());
    std::optional<ac::basic_snowflake_counter<ac::manual_clock>> c;
    try {
        c.emplace(*l, node, 0, clock);
    } catch (std::overflow_error const&) {
        FUZZ_CHECK(l->ticks_at(clock.now_ns()) > l->max_ticks());
        return 0;
    }
    std::vector<std::uint64_t> block;
    while (in.size > 0) {
        const std::uint8_t op = in.u8();
        if (op % 4 == 0) {
            clock.set_ns(in.u64());
        }
        const std::uint64_t last = c->current();
        try {
            if (op % 2) {
                const std::uint64_t id = c->next();
                FUZZ_CHECK(id > last && id <= l->max_id() && l->node_of(id) == node);
            } else {
                const std::size_t count = op % 9;
                block.assign(count, 0);
                c->next_many(block.data(), count);
                std::uint64_t prev = last;
                for (std::uint64_t id : block) {
                    FUZZ_CHECK(id > prev && id <= l->max_id() && l->node_of(id) == node);
                    prev = id;
                }
            }
        } catch (std::overflow_error const&) {
            FUZZ_CHECK(c->current() == last);
        }
    }
    return 0;
}
