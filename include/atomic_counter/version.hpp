// atomic_counter/version.hpp: the library's version, the single source for CMake, Python and C++.
#ifndef ATOMIC_COUNTER_VERSION_HPP
#define ATOMIC_COUNTER_VERSION_HPP

#define ATOMIC_COUNTER_VERSION_MAJOR 0
#define ATOMIC_COUNTER_VERSION_MINOR 2
#define ATOMIC_COUNTER_VERSION_PATCH 0
#define ATOMIC_COUNTER_VERSION "0.2.0"

#endif  // ATOMIC_COUNTER_VERSION_HPP
