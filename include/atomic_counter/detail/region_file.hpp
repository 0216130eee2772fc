// atomic_counter/detail/region_file.hpp: picks the operating system's implementation of a shared
// region's storage (open without being redirected, check the owner, lock for creation, map,
// sync, unlink, random bytes). Every implementation offers the same names in
// atomic_counter::detail::os; shared_region.hpp is written against those alone.
#ifndef ATOMIC_COUNTER_DETAIL_REGION_FILE_HPP
#define ATOMIC_COUNTER_DETAIL_REGION_FILE_HPP

#if defined(__unix__) || defined(__APPLE__)
#include "region_file_posix.hpp"
#else
#error "atomic_counter: shared regions need POSIX (shm_open, mmap, flock) on this platform"
#endif

#endif  // ATOMIC_COUNTER_DETAIL_REGION_FILE_HPP
