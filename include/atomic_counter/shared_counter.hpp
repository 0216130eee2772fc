// atomic_counter/shared_counter.hpp: `shared_counter`, one counter shared by every process on
// the host that opens the same name: the semantics of `counter`, its state in shared memory.
//
// Use it when worker processes (a multiprocessing pool, a pre-fork server, several services) need
// one sequence: every value any process draws is unique across all of them and strictly
// increasing within each, at the cost of one atomic add on a shared cache line, with no lock a
// crashed process could leave held.
//
//   shared_counter ids("orders");                  // POSIX shared memory: /dev/shm/orders
//   shared_counter ids("/var/lib/app/orders.ctr",  // a file; durable, it also survives a
//                      {}, {}, {}, durability::every(65536));  // machine crash
//
// The first process to open a name creates the region from base, now and interval (defaults as
// for `counter`); later ones attach, and a base, interval or durability that differs from the
// region's is std::invalid_argument. A region that is not ours, of the other kind, empty,
// truncated, damaged or of another format is an error that leaves it untouched; a file system too
// full to back the page is std::system_error (ENOSPC), never a crash. A new region is readable and
// writable by its owner only (region_options::mode to share it with a group), and a region that
// another user owns is refused unless region_options::allow_other_owner: that user could set the
// value at will. detail/shared_region.hpp has the layout and the create-or-attach protocol.
//
// Guarantees after a crash
// - Any process killed at any point (kill -9): the region keeps the value, which only grows;
//   no value is reissued. No lock exists to be left held.
// - The machine crashing: a shared-memory name is gone (it lived in RAM). A file survives, but
//   its page may not have reached the disk; with a durable block (a file path only), a
//   high-water mark `block` draws ahead is msync'ed before any value past the previous mark is
//   handed out, and the first open after a reboot starts above the mark: no value is reissued.
//   The cost is one msync (a disk write, typically 0.1-10 ms) per `block` draws, and a gap of at
//   most one block of values per reboot (opens within a boot cost nothing: the page in memory
//   is the newest). A failed msync (EIO) ends durability for that object: its draws throw
//   until the region is opened again.
#ifndef ATOMIC_COUNTER_SHARED_COUNTER_HPP
#define ATOMIC_COUNTER_SHARED_COUNTER_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "clock.hpp"
#include "counter.hpp"
#include "detail/counter_rules.hpp"
#include "detail/shared_region.hpp"
#include "id_block.hpp"

namespace atomic_counter {

template <class Clock = system_clock>
class basic_shared_counter {
public:
    using clock_type = Clock;
    static constexpr char const* api_name = "atomic_counter::shared_counter";
    // Draws reserved per msync when durability is asked for without a block size.
    static constexpr std::uint64_t default_block = std::uint64_t{1} << 16;

    // Opens (creating if needed) the counter `name`. base, now and interval create it (defaults
    // as for `counter`: now from `clock`); when attaching, a given base or interval must match
    // the region's. `durable`: see durability (every(n) reserves n draws per msync). `options`:
    // the mode of a new region, whether another user's region is acceptable, attaching only to
    // one region (see region_options).
    // Throws std::invalid_argument (bad or mismatched arguments, a region of the other kind, a
    // different region than options.only_region), std::domain_error (a region that is not ours,
    // truncated, corrupt) and std::system_error (open/mmap/msync failures; EACCES for another
    // user's or a world-writable region, ELOOP for a symlink, ENOENT for a name that is gone).
    explicit basic_shared_counter(std::string name,
                                  std::optional<std::uint64_t> base = std::nullopt,
                                  std::optional<std::uint64_t> now = std::nullopt,
                                  std::optional<std::uint64_t> interval = std::nullopt,
                                  durability durable = durability::as_region(),
                                  region_options const& options = {}, Clock clock = Clock{})
        : region_(validated(std::move(name), base, now, interval, durable),
                  detail::region_params::counter(base, interval, durable, !now), options, api_name,
                  default_base_ns, 1,
                  [&](std::uint64_t region_base, std::uint64_t region_interval, bool from_clock) {
                      return detail::counter_rules(region_interval, api_name)
                          .start_value(region_base, now && !from_clock ? *now : clock.now_ns());
                  }),
          value_(region_.value()), rules_(region_.header().interval, api_name),
          marks_(region_, block_ids(region_.header().durable_block, rules_.interval())) {
        if (!region_.created()) {
            marks_.open(rules_.interval());
        }
    }

    basic_shared_counter(basic_shared_counter const&) = delete;
    basic_shared_counter& operator=(basic_shared_counter const&) = delete;

    // Adds the interval and returns the new value, unique across every process sharing the
    // region. Throws std::overflow_error past limit() (as counter::next), std::system_error
    // (ENOENT) once unlink() has ended the region, and std::system_error if a durable region's
    // msync fails (the value is then skipped, never reissued; every later draw of this object
    // raises too, until the region is opened again).
    std::uint64_t next() {
        std::uint64_t value = 0;
        try {
            value = rules_.next(value_);
        } catch (std::overflow_error const&) {
            region_.refuse_if_ended(api_name);  // unlink()'s end mark is past the limit
            throw;
        }
        marks_.cover(value, api_name);
        return value;
    }

    // n values with one compare-exchange, as counter::next_many.
    void next_many(std::uint64_t* out, std::size_t n) { next_block(n).write(out); }

    // The n values of next_many(), reserved (and covered by a durable region's mark), as an
    // id_block to write out later: as counter::next_block. unlink()'s end mark refuses it as
    // it refuses next().
    id_block next_block(std::size_t n) {
        id_block block;
        try {
            block = rules_.next_block(value_, n);
        } catch (std::overflow_error const&) {
            region_.refuse_if_ended(api_name);
            throw;
        }
        if (!block.empty()) {
            marks_.cover(block.back(), api_name);
        }
        return block;
    }

    // Relaxed: a single-value snapshot (as counter::current).
    std::uint64_t current() const noexcept { return value_.load(std::memory_order_relaxed); }

    // As counter::set, for every process sharing the region: a store of `value`, which may let
    // values be drawn again (the caller's decision). A durable region first msyncs a mark
    // covering `value`, so the value set survives a crash; draws other processes make during
    // that msync are never undone: the value then becomes the larger of theirs and `value`.
    void set(std::uint64_t value) {
        rules_.check_set(value);
        // Relaxed: as current(); set_unless_moved compares against it.
        const std::uint64_t seen = value_.load(std::memory_order_relaxed);
        if (ATOMIC_COUNTER_UNLIKELY(seen > rules_.limit())) {
            region_.refuse_if_ended(api_name);  // a store must never lift unlink()'s end mark
        }
        marks_.cover(value, api_name);
        detail::counter_rules::set_unless_moved(value_, seen, value);
    }

    // As counter::advance_to, for every process sharing the region: the value becomes at least
    // `value`, never less than it was (durable regions msync a mark covering it first).
    void advance_to(std::uint64_t value) {
        rules_.check_set(value, "advance_to", "value");
        region_.check_not_ended(api_name);  // the maximum could not lower the mark; say so
        marks_.cover(value, api_name);
        detail::counter_rules::advance_to(value_, value);
    }

    std::uint64_t base() const noexcept { return region_.header().base; }
    std::uint64_t interval() const noexcept { return rules_.interval(); }
    std::uint64_t limit() const noexcept { return rules_.limit(); }
    // Draws per msync; 0 when the region is not durable.
    std::uint64_t durable_block() const noexcept { return region_.header().durable_block; }
    std::string const& name() const noexcept { return region_.name(); }
    // The absolute path of a file region (as opened), or the shared-memory name.
    std::string const& path() const noexcept { return region_.path(); }
    // The region's identity, drawn at its creation (see region_options::only_region).
    region_id id() const noexcept { return region_.id(); }
    // Whether this object created the region (rather than attached to it).
    bool created() const noexcept { return region_.created(); }

    // Ends this region's sequence for every process that has it open (their next draw throws
    // std::system_error, ENOENT; this object's too), then removes its name (the absolute path
    // taken at open, or the shared-memory name) if the name still names this region; the next
    // open of the name creates a new region, from its own base and now. std::system_error
    // (ENOENT) when the name no longer names it (another unlink removed it, or something outside
    // did; a region that has the name now is left alone): the sequence is ended all the same.
    void unlink() { region_.unlink(api_name); }

    // The same for the region the name holds now, found by opening it. A name that holds no
    // region (a file emptied, cut short or zeroed) is removed; anything this library cannot end
    // (a symbolic link, another format, a file that is not a region) is refused and left alone
    // (std::system_error ELOOP, std::domain_error). std::system_error (ENOENT) when the name is
    // gone.
    static void unlink(std::string const& name) { detail::shared_region::unlink(name, api_name); }

private:
    static std::string validated(std::string name, std::optional<std::uint64_t> base,
                                 std::optional<std::uint64_t> now,
                                 std::optional<std::uint64_t> interval, durability durable) {
        // Checked before the region exists, so a bad argument never creates a bad region.
        const detail::counter_rules rules(interval.value_or(1), api_name);
        if (base && now) {
            rules.start_value(*base, *now);
        }
        detail::shared_region::check_durable_name(name, durable.durable(), api_name);
        return name;
    }

    static std::uint64_t block_ids(std::uint64_t block, std::uint64_t interval) noexcept {
        return block > std::uint64_t(-1) / interval ? std::uint64_t(-1) : block * interval;
    }

    detail::shared_region region_;
    detail::stored_value value_;  // the page's value field, as the value it stands for
    detail::counter_rules rules_;
    detail::high_water_mark marks_;
};

using shared_counter = basic_shared_counter<>;

}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_SHARED_COUNTER_HPP
