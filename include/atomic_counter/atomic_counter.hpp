// atomic_counter/atomic_counter.hpp: the umbrella header. Includes every public class.
//
//   #include <atomic_counter/atomic_counter.hpp>
//   atomic_counter::counter ids;            // ns since 2020-01-01T05:00Z, +1 per draw
//   atomic_counter::time_counter events;    // (us since epoch << 12) | sequence
//   std::uint64_t a = ids.next(), b = events.next();
#ifndef ATOMIC_COUNTER_ATOMIC_COUNTER_HPP
#define ATOMIC_COUNTER_ATOMIC_COUNTER_HPP

#include "clock.hpp"
#include "counter.hpp"
#include "format.hpp"
#include "id_block.hpp"
#include "layout.hpp"
#include "shared_counter.hpp"
#include "shared_time_counter.hpp"
#include "snowflake_counter.hpp"
#include "time_counter.hpp"
#include "version.hpp"

#endif  // ATOMIC_COUNTER_ATOMIC_COUNTER_HPP
