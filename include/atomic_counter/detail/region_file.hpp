// atomic_counter/detail/region_file.hpp: picks the operating system's implementation of a shared
// region's storage (open without being redirected, check the owner, lock for creation, map,
// sync, unlink, random bytes). Every implementation offers the same names in
// atomic_counter::detail::os; shared_region.hpp is written against those alone.
#ifndef ATOMIC_COUNTER_DETAIL_REGION_FILE_HPP
#define ATOMIC_COUNTER_DETAIL_REGION_FILE_HPP

#include <cstdint>
#include <string>

#if defined(_WIN32)
#include "region_file_windows.hpp"
#elif defined(__unix__) || defined(__APPLE__)
#include "region_file_posix.hpp"
#else
#error "atomic_counter: shared regions need POSIX (shm_open, mmap, flock) or Windows"
#endif

namespace atomic_counter::detail::os {

// "0o640": permission bits as Python writes them.
inline std::string octal(std::uint32_t mode) {
    std::string digits;
    for (mode &= 07777; mode != 0 || digits.size() < 3; mode >>= 3) {
        digits.insert(digits.begin(), static_cast<char>('0' + (mode & 7)));
    }
    return "0o" + digits;
}

}  // namespace atomic_counter::detail::os

#endif  // ATOMIC_COUNTER_DETAIL_REGION_FILE_HPP
