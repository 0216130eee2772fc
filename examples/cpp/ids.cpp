// Draws ids from both counters and decodes the time-based one.
#include <atomic_counter/atomic_counter.hpp>

#include <cstdint>
#include <cstdio>

int main() {
    atomic_counter::counter orders;       // ns since 2020-01-01T05:00Z, +1 per draw
    atomic_counter::time_counter events;  // (us since 1970 << 12) | sequence

    for (int i = 0; i < 3; ++i) {
        std::printf("counter: %llu\n", static_cast<unsigned long long>(orders.next()));
    }
    for (int i = 0; i < 3; ++i) {
        const std::uint64_t id = events.next();
        std::printf(
            "time_counter: %llu (us %llu, sequence %llu)\n", static_cast<unsigned long long>(id),
            static_cast<unsigned long long>(
                atomic_counter::time_counter::decode_timestamp_microseconds(id)),
            static_cast<unsigned long long>(atomic_counter::time_counter::decode_sequence(id)));
    }
    std::printf("lead: %llu us, version %s\n", static_cast<unsigned long long>(events.lead_us()),
                ATOMIC_COUNTER_VERSION);
    return 0;
}
