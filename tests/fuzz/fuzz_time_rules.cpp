// libFuzzer target: the TimeCounter layout and draw rule under any clock: readings that jump
// anywhere, bursts, blocks. Checks: every id is strictly greater than the one before, equals
// (us << 12) when the clock's microsecond is later, last + 1 otherwise; decode inverts pack;
// the only errors are overflow at 2^64 - 1 and a clock past the layout's end (2112), at
// creation or at a draw, and a refused draw changes nothing.
#include <atomic_counter/clock.hpp>
#include <atomic_counter/time_counter.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ac = atomic_counter;
    using tc = ac::basic_time_counter<ac::manual_clock>;
    fuzz::reader in{data, size};
    ac::manual_clock clock(in.u64());
    if (clock.now_ns() / 1000 > tc::timestamp_mask) {
        try {
            tc refused(clock);
            FUZZ_CHECK(false);  // a clock past 2112 must not make a counter
        } catch (std::overflow_error const&) {
        }
        clock.set_ns(clock.now_ns() % (tc::timestamp_mask * 1000));
    }
    tc counter(clock);
    const std::uint64_t start_us = tc::decode_timestamp_microseconds(counter.current());
    FUZZ_CHECK(counter.current() == tc::pack(start_us, 2048));
    std::vector<std::uint64_t> block;
    while (in.size > 0) {
        const std::uint8_t op = in.u8();
        if (op % 3 == 0) {
            clock.set_ns(in.u64());  // anywhere: back, forward, past 2112
        }
        const std::uint64_t now_us = clock.now_ns() / 1000;
        const bool past_end = now_us > tc::timestamp_mask;
        const std::uint64_t last = counter.current();
        const std::uint64_t fresh = tc::pack(now_us, 0);
        const std::uint64_t expected = fresh > last ? fresh : last + 1;  // when last < 2^64 - 1
        const std::uint64_t after = fresh > last ? fresh - 1 : last;
        const std::size_t count = op % 2 ? 1 : op % 7;
        try {
            if (op % 2) {
                const std::uint64_t id = counter.next();
                FUZZ_CHECK(last != ~std::uint64_t{0} && id == expected && id > last);
                FUZZ_CHECK(
                    tc::pack(tc::decode_timestamp_microseconds(id), tc::decode_sequence(id)) == id);
                FUZZ_CHECK(counter.lead_us() ==
                           (tc::decode_timestamp_microseconds(id) > now_us
                                ? tc::decode_timestamp_microseconds(id) - now_us
                                : 0));
            } else {
                block.assign(count, 0);
                counter.next_many(block.data(), count);
                for (std::size_t i = 0; i < count; ++i) {
                    FUZZ_CHECK(block[i] == expected + i);
                }
            }
            FUZZ_CHECK(!past_end || count == 0);
        } catch (std::overflow_error const&) {
            FUZZ_CHECK(counter.current() == last);
            FUZZ_CHECK(past_end || (count > 0 && ~std::uint64_t{0} - after < count));
        }
    }
    return 0;
}
