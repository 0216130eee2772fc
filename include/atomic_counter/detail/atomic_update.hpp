// atomic_counter/detail/atomic_update.hpp: the two read-modify-write loops every counter is made
// of, written once: fetch_update (the next value is a function of the current one) and fetch_max
// (an atomic maximum).
//
// Why relaxed is the default. A counter's value is the only state its draws share: no other
// memory is published with it, so no acquire or release is needed to make an id unique or
// increasing. Uniqueness comes from the single modification order of the atomic (every
// successful compare-exchange reads the value written by the one before it, so no two draws
// start from the same value), and each thread's ids increase because a thread's later operations
// on one atomic never see an older value than its earlier ones (read-read and read-write
// coherence). A caller that does publish other memory with the value (a snowflake counter's lease
// limits, a durable region's high-water mark) passes the orders it needs and says why.
//
// Both loops, and the counters' rules built on them, take any `Value` with the interface of
// std::atomic<std::uint64_t> that they use (load, compare_exchange_weak; the rules also
// fetch_add, fetch_sub, store, compare_exchange_strong): a std::atomic itself, or a shared region's
// stored_value (detail/shared_region.hpp), which keeps the value as its distance below an end mark.
#ifndef ATOMIC_COUNTER_DETAIL_ATOMIC_UPDATE_HPP
#define ATOMIC_COUNTER_DETAIL_ATOMIC_UPDATE_HPP

#include <atomic>
#include <cstdint>

namespace atomic_counter::detail {

// Replaces the value v with next(v), retrying with the fresh value while other threads change it,
// and returns what it stored. next may throw: then nothing is stored. `success` orders the
// exchange that succeeds; `load` the first load and every failed exchange (it may not be stronger
// than success, and neither release nor acq_rel).
template <class Value, class Next>
std::uint64_t fetch_update(Value& value, Next&& next,
                           std::memory_order success = std::memory_order_relaxed,
                           std::memory_order load = std::memory_order_relaxed) {
    std::uint64_t seen = value.load(load);
    std::uint64_t desired = next(seen);
    while (!value.compare_exchange_weak(seen, desired, success, load)) {
        desired = next(seen);
    }
    return desired;
}

// Raises the value to v unless it is already there or beyond (an atomic maximum: it never moves
// back), and returns the value before. Orders as fetch_update; the load order is relaxed.
template <class Value>
std::uint64_t fetch_max(Value& value, std::uint64_t v,
                        std::memory_order success = std::memory_order_relaxed) noexcept {
    std::uint64_t seen = value.load(std::memory_order_relaxed);
    while (seen < v && !value.compare_exchange_weak(seen, v, success, std::memory_order_relaxed)) {
    }
    return seen;
}

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_ATOMIC_UPDATE_HPP
