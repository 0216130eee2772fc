// libFuzzer target: any interval, start value and sequence of operations on a counter. Checks
// the contract: an error is a documented exception that leaves the value as it was; a draw is
// exactly value + interval (or the block of n), never past 2^64 - 1, never wrapped.
#include <atomic_counter/counter.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "fuzz_util.hpp"

namespace {

using fuzz::reader;

// Values near the edges are the interesting ones: bias toward them.
std::uint64_t shaped(reader& in) {
    const std::uint64_t raw = in.u64();
    switch (in.u8() % 4) {
    case 0:
        return raw;
    case 1:
        return ~std::uint64_t{0} - (raw % 70000);
    case 2:
        return raw % 70000;
    default:
        return (std::uint64_t{1} << (raw % 64)) + (raw >> 58) - 32;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in{data, size};
    const std::uint64_t base = shaped(in);
    const std::uint64_t now = shaped(in);
    const std::uint64_t interval = shaped(in);
    std::optional<atomic_counter::counter> c;
    try {
        c.emplace(base, now, interval);
    } catch (std::invalid_argument const&) {
        FUZZ_CHECK(interval == 0 || now < base);
        return 0;
    }
    FUZZ_CHECK(interval != 0 && now >= base && c->current() == now - base);
    const std::uint64_t limit = c->limit();
    FUZZ_CHECK(limit <= ~std::uint64_t{0} - interval);
    std::vector<std::uint64_t> block;
    for (int op = 0; op < 64 && in.size > 0; ++op) {
        const std::uint64_t before = c->current();
        try {
            switch (in.u8() % 4) {
            case 0: {
                const std::uint64_t v = c->next();
                FUZZ_CHECK(before <= limit && v == before + interval && c->current() == v);
                break;
            }
            case 1: {
                const std::uint64_t v = c->next_exclusive();
                FUZZ_CHECK(before <= limit && v == before + interval && c->current() == v);
                break;
            }
            case 2: {
                const std::size_t n = in.u8() % 9;
                block.assign(n, 0);
                c->next_many(block.data(), n);
                for (std::size_t i = 0; i < n; ++i) {
                    FUZZ_CHECK(block[i] == before + (i + 1) * interval);
                }
                FUZZ_CHECK(n == 0 ||
                           (c->current() == block.back() && block.back() <= limit + interval));
                break;
            }
            default: {
                const std::uint64_t v = shaped(in);
                c->set(v);
                FUZZ_CHECK(v <= limit && c->current() == v);
                break;
            }
            }
        } catch (std::overflow_error const&) {
            FUZZ_CHECK(c->current() == before);
        } catch (std::invalid_argument const&) {
            FUZZ_CHECK(c->current() == before);
        }
    }
    return 0;
}
