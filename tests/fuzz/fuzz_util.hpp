// What the libFuzzer targets share: reading fixed-size values off the input, and a check that
// names the failing line before aborting (which libFuzzer reports as a crash and saves).
#ifndef ATOMIC_COUNTER_TESTS_FUZZ_UTIL_HPP
#define ATOMIC_COUNTER_TESTS_FUZZ_UTIL_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fuzz {

inline void check_at(bool ok, char const* file, int line) {
    if (!ok) {
        std::fprintf(stderr, "check failed at %s:%d\n", file, line);
        std::abort();
    }
}

// Consumes the input front to back; past its end every value is 0.
struct reader {
    const std::uint8_t* data;
    std::size_t size;

    std::uint64_t u64() {
        std::uint64_t v = 0;
        const std::size_t n = size < 8 ? size : 8;
        std::memcpy(&v, data, n);
        data += n;
        size -= n;
        return v;
    }
    std::uint8_t u8() { return size ? (--size, *data++) : 0; }
};

}  // namespace fuzz

#define FUZZ_CHECK(ok) ::fuzz::check_at((ok), __FILE__, __LINE__)

#endif  // ATOMIC_COUNTER_TESTS_FUZZ_UTIL_HPP
