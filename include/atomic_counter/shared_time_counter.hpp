// atomic_counter/shared_time_counter.hpp: `shared_time_counter`, TimeCounter ids unique across
// every process on the host that opens the same name: the layout and the draw rule of
// `time_counter`, the last id in shared memory.
//
// Two processes that each hold a time_counter can hand out the same id in the same microsecond;
// processes sharing one shared_time_counter cannot. Every id is unique across all of them and
// strictly increasing within each, through clock steps backwards and bursts, with one
// compare-exchange on a shared cache line and no lock.
//
// Naming, creation, checks and the guarantees after a crash are those of shared_counter (see
// shared_counter.hpp and detail/shared_region.hpp). The durable block is in microseconds of id
// time: a durable region msyncs a high-water mark `block` us ahead of the ids, so after a machine
// crash it restarts at most `block` us ahead of the clock (visible in lead_us()).
#ifndef ATOMIC_COUNTER_SHARED_TIME_COUNTER_HPP
#define ATOMIC_COUNTER_SHARED_TIME_COUNTER_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "clock.hpp"
#include "detail/shared_region.hpp"
#include "detail/time_rules.hpp"
#include "id_block.hpp"

namespace atomic_counter {

template <class Clock = system_clock>
class basic_shared_time_counter {
    using rules = detail::time_rules;

public:
    using clock_type = Clock;
    static constexpr char const* api_name = "atomic_counter::shared_time_counter";
    // Microseconds of ids reserved per msync when durability is asked for without a block.
    static constexpr std::uint64_t default_block = 1000000;

    // Opens (creating if needed) the counter `name`. `durable`: see durability (every(n)
    // reserves n microseconds of ids per msync; a file path only). Throws as
    // basic_shared_counter's constructor, and std::overflow_error when the clock is past
    // 2112-09-17.
    explicit basic_shared_time_counter(std::string name,
                                       durability durable = durability::as_region(),
                                       Clock clock = Clock{}, region_options const& options = {})
        : clock_(std::move(clock)),
          region_(validated(std::move(name), durable), detail::region_params::time_counter(durable),
                  options, api_name, 0, 0,
                  [&](std::uint64_t, std::uint64_t, bool) { return rules::start_value(now_us()); }),
          value_(region_.value()), marks_(region_, block_ids(region_.header().durable_block)) {
        if (!region_.created()) {
            marks_.open(1);
        }
    }

    basic_shared_time_counter(basic_shared_time_counter const&) = delete;
    basic_shared_time_counter& operator=(basic_shared_time_counter const&) = delete;

    // The next id, unique across every process sharing the region (see time_counter::next).
    // std::system_error (ENOENT) once unlink() has ended the region.
    std::uint64_t next() {
        std::uint64_t id = 0;
        try {
            id = rules::next(value_, now_us());
        } catch (std::overflow_error const&) {
            region_.refuse_if_ended(api_name);  // unlink()'s end mark is 2^64 - 1
            throw;
        }
        marks_.cover(id, api_name);
        return id;
    }

    // n consecutive ids with one compare-exchange, as time_counter::next_many.
    void next_many(std::uint64_t* out, std::size_t n) { next_block(n).write(out); }

    // The n values of next_many(), reserved (and covered by a durable region's mark), as an
    // id_block to write out later: as time_counter::next_block. unlink()'s end mark refuses it as
    // it refuses next().
    id_block next_block(std::size_t n) {
        id_block block;
        try {
            block = rules::next_block(value_, now_us(), n);
        } catch (std::overflow_error const&) {
            region_.refuse_if_ended(api_name);
            throw;
        }
        if (!block.empty()) {
            marks_.cover(block.back(), api_name);
        }
        return block;
    }

    // Relaxed: a single-value snapshot (as time_counter::current).
    std::uint64_t current() const noexcept { return value_.load(std::memory_order_relaxed); }

    std::uint64_t lead_us() const noexcept { return rules::lead_us(current(), now_us()); }

    // As time_counter::advance_to, for every process sharing the region (durable regions msync
    // a mark covering `id` first, so it survives a crash).
    void advance_to(std::uint64_t id) {
        region_.check_not_ended(api_name);
        marks_.cover(id, api_name);
        rules::advance_to(value_, id);
    }

    // Microseconds of ids per msync; 0 when the region is not durable.
    std::uint64_t durable_block() const noexcept { return region_.header().durable_block; }
    std::string const& name() const noexcept { return region_.name(); }
    std::string const& path() const noexcept { return region_.path(); }
    region_id id() const noexcept { return region_.id(); }
    bool created() const noexcept { return region_.created(); }

    // As shared_counter::unlink: ends this region's sequence for every holder, then removes its
    // name if it still names this region.
    void unlink() { region_.unlink(api_name); }
    // As shared_counter::unlink(name): the region the name holds now.
    static void unlink(std::string const& name) { detail::shared_region::unlink(name, api_name); }

private:
    std::string validated(std::string name, durability durable) const {
        detail::shared_region::check_durable_name(name, durable.durable(), api_name);
        rules::start_value(now_us());  // a clock past 2112 never creates a region
        return name;
    }

    static std::uint64_t block_ids(std::uint64_t block_us) noexcept {
        return block_us > (std::uint64_t(-1) >> rules::sequence_bits)
                   ? std::uint64_t(-1)
                   : block_us << rules::sequence_bits;
    }

    std::uint64_t now_us() const noexcept { return rules::us_from_ns(clock_.now_ns()); }
    Clock clock_;
    detail::shared_region region_;
    detail::stored_value value_;  // the page's value field, as the id it stands for
    detail::high_water_mark marks_;
};

using shared_time_counter = basic_shared_time_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_SHARED_TIME_COUNTER_HPP
