// atomic_counter/detail/borrow_rule.hpp: the one rule by which time-based ids (TimeCounter's, a
// snowflake counter's) stay unique and strictly increasing whatever the clock does.
//
// An id's position is its time, shifted left by the sequence bits, plus its sequence: a
// TimeCounter id itself, or a snowflake id without its node bits. Given the last position handed
// out and `fresh`, the first position of the tick the clock reads now (sequence 0):
//   - a tick later than the last id's starts afresh at `fresh`;
//   - otherwise (the same tick, a clock stepped back, or a sequence used up) the next position
//     is the last + 1, carrying into the next tick when the sequence is full: the id *borrows*
//     from a tick that has not come yet, and runs ahead of the clock (lead_us(), lead_ns()).
// Every draw moves to a larger position, so no position is handed out twice, and no draw ever
// waits for the clock. The callers apply the rule inside one compare-exchange on the last
// position (fetch_update), which makes it atomic across threads and processes.
#ifndef ATOMIC_COUNTER_DETAIL_BORROW_RULE_HPP
#define ATOMIC_COUNTER_DETAIL_BORROW_RULE_HPP

#include <cstdint>

namespace atomic_counter::detail {

// The last of `count` positions (count >= 1) drawn after `last` when the clock's tick starts at
// `fresh`: the first is fresh if that is later than last, last + 1 otherwise; the rest follow by
// 1. False, with *out untouched, when the last would pass `max` (the layout's time has run out).
inline bool following_position(std::uint64_t last, std::uint64_t fresh, std::uint64_t count,
                               std::uint64_t max, std::uint64_t* out) noexcept {
    const std::uint64_t after = fresh > last ? fresh - 1 : last;
    if (after > max || max - after < count) {
        return false;
    }
    *out = after + count;
    return true;
}

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_BORROW_RULE_HPP
