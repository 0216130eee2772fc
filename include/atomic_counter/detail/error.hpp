// atomic_counter/detail/error.hpp: cold, out-of-line helpers that throw the library's documented
// exceptions, so the hot paths stay small and the throw sites stay out of the instruction cache.
#ifndef ATOMIC_COUNTER_DETAIL_ERROR_HPP
#define ATOMIC_COUNTER_DETAIL_ERROR_HPP

#include <stdexcept>
#include <string>
#include <system_error>

#if defined(__GNUC__) || defined(__clang__)
#define ATOMIC_COUNTER_NOINLINE __attribute__((noinline))
#define ATOMIC_COUNTER_UNLIKELY(x) __builtin_expect(!!(x), 0)
#elif defined(_MSC_VER)
#define ATOMIC_COUNTER_NOINLINE __declspec(noinline)
#define ATOMIC_COUNTER_UNLIKELY(x) (x)
#else
#define ATOMIC_COUNTER_NOINLINE
#define ATOMIC_COUNTER_UNLIKELY(x) (x)
#endif

namespace atomic_counter {

// A leased counter refused to draw: its lease could have expired, its ids reached the high-water
// mark recorded for the node's next holder, or they would run past the lease's lead limit.
// Python: atomic_counter.LeaseExpiredError.
class lease_expired : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace atomic_counter

namespace atomic_counter::detail {

// Bad argument values (a caller's mistake): std::invalid_argument, ValueError in Python.
[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_invalid_argument(std::string const& msg) {
    throw std::invalid_argument(msg);
}

// A counter that cannot go further without wrapping: std::overflow_error, OverflowError in
// Python. The counter keeps its value when this is thrown.
[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_overflow(std::string const& msg) {
    throw std::overflow_error(msg);
}

// The operating system refused (open, map, sync, lock): std::system_error with the errno value,
// OSError in Python (PermissionError for EACCES, FileNotFoundError for ENOENT).
[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_system(int err, std::string const& msg) {
    throw std::system_error(err, std::generic_category(), msg);
}

// Data that is not ours, or is damaged: std::domain_error, ValueError in Python.
[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_corrupt(std::string const& msg) {
    throw std::domain_error(msg);
}

// A leased counter that may not draw now: lease_expired, LeaseExpiredError in Python.
[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_lease_expired(std::string const& msg) {
    throw lease_expired(msg);
}

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_ERROR_HPP
