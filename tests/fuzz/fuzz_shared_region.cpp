// libFuzzer target: whatever bytes a region file holds (the 4096-byte page, or a file of any
// other size), opening it as either kind of shared counter gives a valid counter or a
// documented exception, and a rejected file is left byte for byte as it was. A page with our
// magic and version but not ready (a creator of an older version that died) may be initialised;
// a valid page in state ended (an unlinker that died) is removed and a new region created; a
// valid page in state unstarted is lifted to the clock and made ready; an empty or all-zero
// file, or a value field of zero (the end mark), is refused like any other damage. A draw from
// an opened region either gives a value or refuses (past the limit, or the end).
#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

#include "fuzz_util.hpp"

namespace {

std::string read_all(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/atomic-counter-fuzz-" + std::to_string(getpid());
    // Short inputs become a page of the header the fuzzer wrote plus zeros, so that most runs
    // reach the header checks rather than the size check.
    std::string bytes(reinterpret_cast<const char*>(data), size);
    if (size > 0 && data[0] % 2 == 0 && size < 4096) {
        bytes.resize(4096, '\0');
    }
    // Half of the full pages get a checksum that matches their fixed fields, so that runs get
    // past it to the moving fields' orderings and the parameter checks.
    if (bytes.size() == 4096 && size > 2 && data[2] % 2) {
        const std::uint64_t sum = atomic_counter::detail::header_checksum(bytes.data());
        std::memcpy(&bytes[72], &sum, sizeof sum);
    }
    const bool as_time = size > 1 && data[1] % 2;
    {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    }
    bool opened = false;
    try {
        if (as_time) {
            atomic_counter::shared_time_counter c(path);
            try {
                c.next();
            } catch (std::overflow_error const&) {
            }
        } else {
            atomic_counter::shared_counter c(path);
            try {
                c.next();
            } catch (std::overflow_error const&) {
            }
        }
        opened = true;
    } catch (std::invalid_argument const&) {
    } catch (std::domain_error const&) {
    } catch (std::system_error const&) {
    }
    if (!opened && !bytes.empty()) {
        FUZZ_CHECK(read_all(path) == bytes);
    }
    std::remove(path.c_str());
    return 0;
}
