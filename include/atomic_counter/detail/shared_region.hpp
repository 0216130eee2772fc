// atomic_counter/detail/shared_region.hpp: the memory-mapped region that holds a shared counter,
// its header, and the create-or-attach protocol every process follows. The storage itself (a
// POSIX shared-memory object or a file) is detail/region_file.hpp's.
//
// A name without '/' is a shared-memory object (/dev/shm on Linux: survives any process, not a
// reboot); a name with '/' is a file path (survives a reboot; with durability on, a machine
// crash too).
//
// Region layout, format version 3, one 4096-byte page, native byte order:
//
//   offset  field                      written
//        0  magic         u64          at initialisation, first
//        8  version       u32          at initialisation, first
//       12  kind          u32          1 = counter, 2 = time_counter     ]
//       16  base          u64          counter: base ns; time_counter: 0  ]
//       24  interval      u64          counter: interval; time_counter: 0 ] fixed at creation,
//       32  durable_block u64          0: not durable; else per msync     ] covered by the
//       40  start         u64          the first value                    ] checksum (with
//       48  id            u64[2]       128 random bits naming the region  ] magic, version)
//       64  state         atomic u32   0 empty, 1 initialising, 2 ready, 3 ended (unlinked),
//                                      4 unstarted (published; its first opener takes the start
//                                      from the clock, then ready)
//       68  creator_pid   u32          who initialised it (for messages only)
//       72  checksum      u64          FNV-1a 64 of bytes [0, 64)
//      128  value         atomic u64   the counter, stored as end_mark - value (stored_value):
//                                      zero is the end; on a cache line of its own
//      192  reserved      atomic u64   durable: every value handed out is <= persisted
//      200  persisted     atomic u64     <= reserved; both are raised before values pass them
//      208  boot          atomic u64[2] durable: the boot of the last open (0: unknown)    ]
//      224  device        atomic u64    durable: the file of the last open (a copy, or a   ] the
//      232  inode         atomic u64      file made again under its inode number, is      ] open
//      240  syncs         atomic u64    durable: bumped before each msync (dirties the page)
//      248  birth         atomic u64    durable, with device and inode: the file's birth   ] the
//      256  generation    atomic u64      time and inode generation (0: not said)         ] open
//   [264, 4095]           zero; the last byte is never written (posix_fallocate may write it)
//
// Version 2 stored the value as it is; this version refuses those regions (and they it).
//
// Invariants a reader checks before using a region (any violation: refused, file untouched):
// magic, version, kind and checksum match; the value field is not zero; start <= persisted <=
// reserved; in a region that is not durable, reserved == persisted == start (nothing moves them).
//
// Create-or-attach, the same code in every process (the storage is opened by region_file, which
// also refuses another user's region, symlinks, other file types and world-writable regions):
// 1. Open the name, never creating. Found: no link left means it was unlinked since our open
//    (open again); a second link that is a creator's temporary name for the same file is
//    removed (region_file::finish_publication). Its size must be 4096 (an empty or short file
//    is damage: our regions get their name complete), its storage is allocated
//    (posix_fallocate: ENOSPC, not a later SIGBUS), and a page whose state is ready or
//    unstarted (acquire) is attached with no lock. A page in state ended (an unlinker died
//    before removing the name) is removed under its lock, and the open starts over.
// 2. Not found: build the region in a new unnamed object (allocated, every field, state ready,
//    or unstarted when its start comes from the clock; msync'ed when durable) and publish it
//    under the name with a link (or a rename) that fails when the name exists; then another
//    creator won: drop ours and attach to theirs. A creator that dies leaves no name: nobody
//    waits for it.
// 3. Storage that cannot be built unnamed (macOS shared memory: made exclusively, empty, under
//    the name), and pages begun in place by older versions (our magic and version, a state short
//    of ready): the lock's holder initialises (writes the fields, the checksum and the start
//    value, then state = ready (release)); the others wait for it, at most init_timeout, then
//    refuse, naming the live holder. A lock dies with its holder, so a creator that died is
//    replaced at once. Where nothing locks (macOS shared memory) the exclusive creator
//    initialises, and a creator that died there is named (its pid) in the error.
// 4. Unstarted (the creator read the clock before its region had the name, and may have been
//    stopped for any time before publishing it): every opener, the creator first, lifts the
//    value to a start read from the clock now (a maximum), then sets ready (release).
// 5. Durable, attached: fsync the file (a write-back error nobody saw is reported to a new
//    descriptor), fsync its directory, and check that the page is this file's (check_boot).
//
// unlink(), the one rule: a name is removed only by a process that holds the lock of the file it
// names and has checked, under that lock, that the name still names that file (device and
// inode), after it has made sure that nothing can draw from that file: it ended the region (state
// ended, then zero in the value field, which every draw reads and refuses; its cold path reads
// the state and raises ENOENT), or the value field reads zero already. Every remover of ours
// follows it (unlink() of an object, unlink(name), an opener finishing a dead unlinker's work),
// so no unlink removes a name it did not end, whoever races it. An object's unlink() ends its own
// page and acts on the absolute path taken at open.
#ifndef ATOMIC_COUNTER_DETAIL_SHARED_REGION_HPP
#define ATOMIC_COUNTER_DETAIL_SHARED_REGION_HPP

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "atomic_update.hpp"
#include "counter_rules.hpp"
#include "error.hpp"
#include "region_file.hpp"

namespace atomic_counter {

// The identity of a region: 128 random bits drawn when it was created. A name can be unlinked
// and created again; the id tells the two regions apart (pickles carry it).
struct region_id {
    std::uint64_t high = 0;
    std::uint64_t low = 0;

    // 32 lowercase hex digits.
    std::string to_string() const {
        static constexpr char digits[] = "0123456789abcdef";
        std::string text(32, '0');
        for (int i = 0; i < 16; ++i) {
            text[static_cast<std::size_t>(15 - i)] = digits[(high >> (4 * i)) & 15];
            text[static_cast<std::size_t>(31 - i)] = digits[(low >> (4 * i)) & 15];
        }
        return text;
    }

    // The inverse of to_string(); std::invalid_argument for anything but 32 hex digits.
    static region_id from_string(std::string const& text) {
        region_id id;
        if (text.size() != 32) {
            detail::on_error_invalid_argument(
                "atomic_counter::region_id: expected 32 hex digits, got '" + text + "'");
        }
        for (std::size_t i = 0; i < 32; ++i) {
            const char c = text[i];
            const int digit = c >= '0' && c <= '9'   ? c - '0'
                              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                     : -1;
            if (digit < 0) {
                detail::on_error_invalid_argument(
                    "atomic_counter::region_id: expected 32 hex digits, "
                    "got '" +
                    text + "'");
            }
            std::uint64_t& half = i < 16 ? id.high : id.low;
            half = (half << 4) | static_cast<std::uint64_t>(digit);
        }
        return id;
    }

    friend bool operator==(region_id const& a, region_id const& b) noexcept {
        return a.high == b.high && a.low == b.low;
    }
    friend bool operator!=(region_id const& a, region_id const& b) noexcept { return !(a == b); }
};

// Runs a call that may block for a while (msync, waiting for another process to finish creating
// a region). The default runs it directly; the Python binding releases the GIL around it.
using blocking_runner = void (*)(void (*call)(void*), void* context);

// How a shared counter opens its region, beyond the counter's own parameters.
struct region_options {
    // Permission bits of a region this open creates, applied exactly (the umask does not narrow
    // them). 0600: only this user. 0660 shares with the file's group (see allow_other_owner).
    std::uint32_t mode = 0600;
    // Attach to a region that another user owns. Off by default: that user could set the value
    // at will, so a region planted under the name must not be trusted.
    bool allow_other_owner = false;
    // Attach only to this region: never create, std::system_error (ENOENT) when the name is
    // gone, std::invalid_argument when another region now has the name (pickles use it).
    std::optional<region_id> only_region;
    // Where calls that may block run (nullptr: directly).
    blocking_runner run_blocking = nullptr;
};

// What a shared counter asks of its region's durability:
//   durability::as_region()  attach as the region is (and create a non-durable one): the default
//   durability::off()        the region must not be durable
//   durability::every(n)     durable, msyncing a high-water mark n values ahead (a file path on a
//                            disk-backed file system); when attaching, n must be the region's
// The form 0.2's constructors took still converts: a std::optional<std::uint64_t> or an int,
// nullopt as as_region(), 0 as off(), n as every(n).
class durability {
public:
    static durability as_region() noexcept { return {false, 0}; }
    static durability off() noexcept { return {true, 0}; }
    static durability every(std::uint64_t block) noexcept { return {true, block}; }

    durability() noexcept : durability(as_region()) {}
    durability(std::optional<std::uint64_t> block) noexcept  // NOLINT(google-explicit-constructor)
        : given_(block.has_value()), block_(block.value_or(0)) {}
    durability(std::uint64_t block) noexcept  // NOLINT(google-explicit-constructor)
        : given_(true), block_(block) {}
    durability(std::nullopt_t) noexcept  // NOLINT(google-explicit-constructor)
        : durability(as_region()) {}

    // Whether the caller asked for something (rather than the region's own).
    bool given() const noexcept { return given_; }
    bool durable() const noexcept { return block_ != 0; }
    // Values (SharedTimeCounter: microseconds of ids) per msync; 0 when not durable.
    std::uint64_t block() const noexcept { return block_; }

private:
    durability(bool given, std::uint64_t block) noexcept : given_(given), block_(block) {}
    bool given_;
    std::uint64_t block_;
};

namespace detail {

enum class region_kind : std::uint32_t { counter = 1, time_counter = 2 };

inline constexpr std::uint64_t region_magic = 0x3152544E43434D41ULL;  // "AMCCNTR1"
inline constexpr std::uint32_t region_version = 3;
inline constexpr std::size_t region_size = 4096;
// How long an opener waits for a live process to finish creating a region (or an unlinker to
// finish removing one) before refusing. Overridable for tests and fuzzing.
#ifndef ATOMIC_COUNTER_INIT_TIMEOUT_MS
#define ATOMIC_COUNTER_INIT_TIMEOUT_MS 5000
#endif
inline constexpr std::chrono::milliseconds init_timeout{ATOMIC_COUNTER_INIT_TIMEOUT_MS};

struct region_header {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t kind;
    std::uint64_t base;
    std::uint64_t interval;
    std::uint64_t durable_block;
    std::uint64_t start;
    std::uint64_t id[2];
    std::atomic<std::uint32_t> state;
    std::uint32_t creator_pid;
    std::uint64_t checksum;
    char pad1_[48];
    std::atomic<std::uint64_t> value;  // stored as end_mark - value: see stored_value
    char pad2_[56];
    std::atomic<std::uint64_t> reserved;
    std::atomic<std::uint64_t> persisted;
    std::atomic<std::uint64_t> boot[2];
    std::atomic<std::uint64_t> device;
    std::atomic<std::uint64_t> inode;
    std::atomic<std::uint64_t> syncs;
    std::atomic<std::uint64_t> birth;
    std::atomic<std::uint64_t> generation;
};
inline constexpr std::size_t checksummed_bytes = 64;
static_assert(offsetof(region_header, state) == checksummed_bytes, "layout");
static_assert(offsetof(region_header, checksum) == 72, "layout");
static_assert(offsetof(region_header, value) == 128, "layout");
static_assert(offsetof(region_header, reserved) == 192, "layout");
static_assert(offsetof(region_header, boot) == 208, "layout");
static_assert(offsetof(region_header, syncs) == 240, "layout");
static_assert(offsetof(region_header, generation) == 256, "layout");
// A file cut to fewer bytes than this has lost (part of) the value field: it reads as zero.
inline constexpr std::size_t value_field_end = offsetof(region_header, value) + 8;
// The page's last byte is never written: posix_fallocate's emulation may write a zero there.
static_assert(sizeof(region_header) < region_size - 1, "layout");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "shared counters need address-free, lock-free atomics");

// state: 0 empty, 1 initialising (in place, by the lock's holder), 2 ready, 3 ended (unlink()),
// 4 unstarted (published; its first value is taken from a clock read after publication by the
// first opener, then ready: see shared_region::finish).
enum : std::uint32_t {
    state_empty = 0,
    state_initialising = 1,
    state_ready = 2,
    state_ended = 3,
    state_unstarted = 4
};

// FNV-1a, 64 bits: a check against accidental damage (a stray write, a bad restore, a disk
// error), not against a writer who means harm (the file's permissions keep those out).
// `page` is the region's first checksummed_bytes bytes.
inline std::uint64_t header_checksum(void const* page) noexcept {
    auto const* bytes = static_cast<unsigned char const*>(page);
    std::uint64_t hash = 0xCBF29CE484222325ULL;
    for (std::size_t i = 0; i < checksummed_bytes; ++i) {
        hash = (hash ^ bytes[i]) * 0x100000001B3ULL;
    }
    return hash;
}

// A region's end mark: a value every draw already refuses, which the value field reads as when
// it holds zero (see stored_value). SharedCounter: above its limit, by half the headroom, so
// that racing draws (each adds the interval, sees the value past the limit and takes its add
// back) never carry it past 2^64 - 1, nor back down to the limit; an interval too large for
// headroom draws by compare-exchange, which never adds: limit + 1. SharedTimeCounter: 2^64 - 1,
// past which the borrowing rule has no id.
inline std::uint64_t end_mark(std::uint32_t kind, std::uint64_t interval) noexcept {
    if (kind == static_cast<std::uint32_t>(region_kind::counter)) {
        const std::uint64_t limit = counter_rules::limit_for(interval);
        return interval <= counter_rules::max_headroom_interval
                   ? limit + (interval << (counter_rules::headroom_bits - 1))
                   : limit + 1;
    }
    return std::uint64_t(-1);
}
inline std::uint64_t end_mark(region_header const& h) noexcept {
    return end_mark(h.kind, h.interval);
}

// The counter's value as the page holds it: its distance below the region's end mark
// (stored = mark - value, modulo 2^64), with the interface of std::atomic<std::uint64_t> that
// the rules use, so that the rules run on it unchanged. Why: every way a file loses bytes under
// its holders (truncated, cut short, emptied and regrown, its tail past the end of the file
// zeroed again by each write-back) turns them into zeros, and a stored field whose bytes turn
// to zero can only become smaller, so the value it reads as can only become larger: never a
// value handed out before. All zero reads as the end mark itself, which every draw refuses. So
// unlink() ends a sequence by storing zero, without needing the region's parameters, and a page
// zeroed under its holders is ended, not restarted. Each holder reads the mark once, at open,
// from the checksummed kind and interval; a draw costs one subtraction more.
class stored_value {
public:
    stored_value(std::atomic<std::uint64_t>& stored, std::uint64_t mark) noexcept
        : stored_(&stored), mark_(mark) {}

    std::uint64_t load(std::memory_order order) const noexcept {
        return mark_ - stored_->load(order);
    }
    void store(std::uint64_t value, std::memory_order order) noexcept {
        stored_->store(mark_ - value, order);
    }
    std::uint64_t fetch_add(std::uint64_t delta, std::memory_order order) noexcept {
        return mark_ - stored_->fetch_sub(delta, order);
    }
    std::uint64_t fetch_sub(std::uint64_t delta, std::memory_order order) noexcept {
        return mark_ - stored_->fetch_add(delta, order);
    }
    bool compare_exchange_weak(std::uint64_t& expected, std::uint64_t desired,
                               std::memory_order success, std::memory_order failure) noexcept {
        std::uint64_t seen = mark_ - expected;
        if (stored_->compare_exchange_weak(seen, mark_ - desired, success, failure)) {
            return true;
        }
        expected = mark_ - seen;
        return false;
    }
    bool compare_exchange_strong(std::uint64_t& expected, std::uint64_t desired,
                                 std::memory_order success, std::memory_order failure) noexcept {
        std::uint64_t seen = mark_ - expected;
        if (stored_->compare_exchange_strong(seen, mark_ - desired, success, failure)) {
            return true;
        }
        expected = mark_ - seen;
        return false;
    }

    std::uint64_t mark() const noexcept { return mark_; }

private:
    std::atomic<std::uint64_t>* stored_;
    std::uint64_t mark_;
};

// What a creator writes and an attacher checks: the kind, and the parameters a caller gave
// (an attacher checks only those; a creator uses defaults for the rest). clock_start: the
// creator's start comes from the clock (SharedCounter without `now`), so the region is published
// unstarted and its first opener takes the start from a clock read after publication.
struct region_params {
    region_kind kind;
    std::optional<std::uint64_t> base;
    std::optional<std::uint64_t> interval;
    atomic_counter::durability durability;
    bool clock_start = false;

    static region_params counter(std::optional<std::uint64_t> base,
                                 std::optional<std::uint64_t> interval,
                                 atomic_counter::durability durability, bool clock_start) {
        return {region_kind::counter, base, interval, durability, clock_start};
    }
    static region_params time_counter(atomic_counter::durability durability) {
        return {region_kind::time_counter, std::nullopt, std::nullopt, durability, false};
    }
};

// An open region: its mapping, and its file or object, kept open for the holder's lifetime (its
// lock and identity serve unlink()). Unmaps and closes on destruction.
class shared_region {
public:
    // Opens (creating it if needed and allowed) the region `name` and returns it ready. A
    // creator writes base_default / interval_default for parameters the caller left out, and
    // the value start(base, interval, false) computes; start(base, interval, true) must read the
    // clock (whatever `now` the caller gave): the start of a region published unstarted.
    template <class Start>
    shared_region(std::string name, region_params const& params, region_options const& options,
                  char const* api, std::uint64_t base_default, std::uint64_t interval_default,
                  Start&& start)
        : name_(std::move(name)), is_path_(names_file(name_)),
          path_(is_path_ ? os::absolute_path(name_) : name_), run_blocking_(options.run_blocking) {
        validate_name(api);
        if (params.durability.durable() && is_path_) {
            std::string fs;
            if (!os::persists_across_crash(os::parent_directory(path_), &fs)) {
                on_error_invalid_argument(
                    describe(api) + ": durable=True on " + fs +
                    ", which lives in RAM and does not survive a machine crash; use a path on "
                    "a disk-backed file system");
            }
        }
        open(params, options, api, base_default, interval_default, start);
        check(params, options, api);
        mark_ = end_mark(*header_);
        if (header_->durable_block != 0) {
            if (!created_) {
                open_durable(api);
            } else if (is_path_) {
                // The new file's name must survive a crash as surely as its msync'ed page.
                blocking([&] { os::sync_directory(os::parent_directory(path_), describe(api)); });
            }
        }
        // Acquire: pairs with the creator's release store of the state.
        if (header_->state.load(std::memory_order_acquire) == state_unstarted) {
            finish(start);
        }
    }

    shared_region(shared_region const&) = delete;
    shared_region& operator=(shared_region const&) = delete;
    ~shared_region() = default;

    region_header& header() const noexcept { return *header_; }
    std::string const& name() const noexcept { return name_; }
    // The name an open elsewhere must use to reach this region: the absolute path of a file
    // (taken when it was opened), or the shared-memory name.
    std::string const& path() const noexcept { return path_; }
    bool created() const noexcept { return created_; }
    atomic_counter::region_id id() const noexcept { return {header_->id[0], header_->id[1]}; }
    // The counter's value in the page (see stored_value).
    stored_value value() const noexcept { return {header_->value, mark_}; }

    // Durable regions: whether this open must lift the value past `reserved` before drawing:
    // the page may have come from the disk, where only what was msync'ed is sure (the page was
    // last opened in another boot, or the boot is not recorded, or a write-back error was seen
    // in this boot). Otherwise the page in memory is authoritative.
    bool opened_after_reboot() const noexcept { return after_reboot_; }

    // Durable regions: records this boot and this file in the page, once any lift is done (the
    // release store of the boot's second half publishes the lift to the opens that follow).
    void record_open() const noexcept {
        region_header& h = *header_;
        std::uint64_t boot[2];
        os::boot_id(boot);
        // Relaxed: published by the release store below.
        h.device.store(device_, std::memory_order_relaxed);
        h.inode.store(inode_, std::memory_order_relaxed);
        h.birth.store(birth_, std::memory_order_relaxed);
        h.generation.store(generation_, std::memory_order_relaxed);
        h.boot[0].store(boot[0], std::memory_order_relaxed);
        // Release: an open that reads this boot (acquire) sees the lift and the identity above.
        h.boot[1].store(boot[1], std::memory_order_release);
    }

    // Durable regions: a write-back error was seen (a failed msync): every open of this region
    // for the rest of the boot lifts past `reserved` (see os::mark_write_error).
    void mark_write_error() const noexcept { os::mark_write_error(header_->id); }

    // Runs f where calls that may block run (see region_options::run_blocking).
    template <class F>
    void blocking(F&& f) const {
        if (run_blocking_ == nullptr) {
            f();
            return;
        }
        using call = std::remove_reference_t<F>;
        run_blocking_([](void* context) { (*static_cast<call*>(context))(); },
                      const_cast<void*>(static_cast<void const*>(&f)));
    }

    // Flushes the page to its file and waits for the write.
    void sync(char const* api) const {
        blocking([&] { mapping_.sync(describe(api)); });
    }

    // A draw refused at the value (past the limit, or past 2^64 - 1) calls this before
    // reporting its overflow: the value it met may be the end mark, and then the region's
    // sequence has ended: std::system_error (ENOENT) when unlink() ended it, std::domain_error
    // when its page was zeroed under this holder (its file truncated or rewritten).
    ATOMIC_COUNTER_NOINLINE void refuse_if_ended(char const* api) const {
        // Acquire: the draw read the end (or a value after it) with a relaxed read-modify-write;
        // this fence pairs with unlink()'s release store of it, so state_ended, stored before,
        // is seen.
        std::atomic_thread_fence(std::memory_order_acquire);
        const std::uint32_t state = header_->state.load(std::memory_order_relaxed);
        if (state == state_ended) {
            on_ended(api);
        }
        // Relaxed: a snapshot; the fields below are fixed since publication, unless zeroed.
        const bool counter_at_end =
            mark_ != std::uint64_t(-1) && header_->value.load(std::memory_order_relaxed) == 0;
        if (header_->magic != region_magic || (state != state_ready && state != state_unstarted) ||
            counter_at_end || cut_short()) {
            on_zeroed(api);
        }
    }

    // The same check for calls that do not draw (advance_to): std::system_error (ENOENT) once
    // unlink() has ended the region, std::domain_error when its page was zeroed.
    void check_not_ended(char const* api) const {
        // Acquire: as refuse_if_ended (a snapshot; the draws refuse on their own).
        if (ATOMIC_COUNTER_UNLIKELY(header_->state.load(std::memory_order_acquire) == state_ended ||
                                    header_->value.load(std::memory_order_relaxed) == 0)) {
            refuse_if_ended(api);
        }
    }

    // Ends this region's sequence for every process that holds it (through this holder's own
    // page, wherever its name is now), then removes the name if it still names this region.
    // std::system_error: ENOENT when the name no longer names it (another unlink() removed it,
    // or something outside did; a region that has the name now is left alone): the sequence is
    // ended all the same. Windows sections have no name: nothing is done.
    void unlink(char const* api) {
        const std::string what = describe(api);
        if (!os::names_outlive_holders(is_path_)) {
            return;
        }
        // The name's file through a descriptor of its own: the lock belongs to an open file
        // description, and this object's own may be shared with a forked child's copy, which
        // would take the same lock at the same time.
        std::optional<os::region_file> named;
        try {
            named.emplace(path_, is_path_, false, 0, region_size, what);
        } catch (std::system_error const& e) {
            if (e.code().value() != ENOENT && e.code().value() != ELOOP) {
                throw;
            }
        }
        bool same_file = false;
        if (named) {
            const os::file_facts facts = named->facts();
            same_file = facts.device == device_ && facts.inode == inode_;
        }
        os::lock_result lock = os::lock_result::unsupported;
        if (same_file) {
            blocking([&] {
                lock = wait_for_lock(*named, std::chrono::steady_clock::now() + init_timeout, what);
            });
        }
        struct unlock_named {
            std::optional<os::region_file>& file;
            os::lock_result lock;
            ~unlock_named() {
                if (lock == os::lock_result::locked) {
                    file->unlock();
                }
            }
        } unlock{named, lock};
        // This region's own page, wherever its name is now: a file cut short of the value field
        // has it zeroed already (ended); an emptied one has no page left to touch.
        if (region_bytes(file_->facts()) >= value_field_end) {
            end_sequence(*header_);
            os::clear_write_error(header_->id);  // ended: no open of it draws again
        }
        if (!same_file || !named->remove_name()) {
            on_error_system(ENOENT, what +
                                        ": its name no longer names this region (another "
                                        "unlink() removed it, or something outside did; a region "
                                        "that has the name now is left alone); its sequence is "
                                        "ended");
        }
    }

    // Ends the sequence of the region the name holds, for every process that holds it, then
    // removes the name. Removes only what it has made sure nothing draws from: a region of this
    // format (ended now: whatever its header's damage, its value field can be zeroed), or a file
    // whose value field is zero already (emptied, cut short, zeroed). With `only`, only that
    // region (its id): anything else under the name is left alone. std::system_error: ENOENT
    // when the name is gone (or another unlink removed it meanwhile, or it holds another region
    // than `only`), ELOOP for a symbolic link (never removed: nothing of ours is behind it),
    // EACCES when it cannot be opened; std::domain_error for anything it cannot end (another
    // format, a file that is not a region), left untouched.
    static void unlink(std::string const& name, char const* api,
                       std::optional<atomic_counter::region_id> only = std::nullopt) {
        const bool is_path = names_file(name);
        const std::string what = std::string(api) + " '" + name + "'";
        if (!os::names_outlive_holders(is_path)) {
            return;  // a Windows section: no name to remove, and no second region can appear
        }
        os::region_file file(is_path ? os::absolute_path(name) : name, is_path, false, 0,
                             region_size, what);
        const os::lock_result lock =
            wait_for_lock(file, std::chrono::steady_clock::now() + init_timeout, what);
        const unlock_on_exit unlock{file, lock};
        const os::file_facts facts = file.facts();
        if (!facts.regular) {
            on_error_corrupt(what + ": not a regular file, so not a region; left untouched");
        }
        end_file(file, facts, what, only);
        if (!file.remove_name()) {
            on_error_system(ENOENT, what + ": unlink failed: another unlink removed it meanwhile");
        }
    }

    // A name with a path separator is a file; any other is a shared-memory name.
    static bool names_file(std::string const& name) { return os::names_file(name); }

    // std::invalid_argument when durability is asked of a shared-memory name, which lives in
    // RAM: only a file can survive a machine crash. Checked before any region is created.
    static void check_durable_name(std::string const& name, bool durable, char const* api) {
        if (durable && !names_file(name)) {
            on_error_invalid_argument(std::string(api) + " '" + name +
                                      "': durable needs a file path (a name with '/'); shared "
                                      "memory does not survive a machine crash");
        }
    }

private:
    struct unlock_on_exit {
        os::region_file& file;
        os::lock_result lock;
        unlock_on_exit(os::region_file& f, os::lock_result l) noexcept : file(f), lock(l) {}
        unlock_on_exit(unlock_on_exit const&) = delete;
        unlock_on_exit& operator=(unlock_on_exit const&) = delete;
        ~unlock_on_exit() {
            if (lock == os::lock_result::locked) {
                file.unlock();
            }
        }
    };

    std::string describe(char const* api) const { return std::string(api) + " '" + name_ + "'"; }

    // Whether the region's file is now shorter than its page (truncated under this holder: the
    // bytes past its end read as zero, so part of the value field may be gone). One fstat, on
    // the cold path of a refused draw only.
    bool cut_short() const noexcept {
        try {
            return file_ && region_bytes(file_->facts()) < region_size;
        } catch (...) {
            return false;
        }
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_ended(char const* api) const {
        on_error_system(ENOENT, describe(api) +
                                    ": the region was unlinked, which ended its sequence; no "
                                    "value is drawn from it any more");
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_zeroed(char const* api) const {
        on_error_corrupt(describe(api) +
                         ": the region's page was zeroed under this holder (its file truncated, "
                         "emptied or rewritten), which ends its sequence: no value is drawn from "
                         "it any more. Remove the name (unlink()) and create the region again "
                         "above the last value issued (advance_to())");
    }

    // Ends a sequence: state_ended, then zero in the value field (the end mark; see
    // stored_value), for every holder whatever its parameters. A store, not a maximum: draws
    // racing on the end (each adds the interval, then takes it back) can take back at most what
    // they added after it, so the value stays past every limit (the mark's headroom).
    static void end_sequence(region_header& h) noexcept {
        // Relaxed: published by the release below.
        h.state.store(state_ended, std::memory_order_relaxed);
        // Release: a draw that reads the end sees state_ended (see refuse_if_ended).
        h.value.store(0, std::memory_order_release);
    }

    // unlink(name)'s decision, under the lock of the file the name held when opened: end a
    // region of ours (any damage but to its magic and version: the value field is where it is),
    // or make sure nothing can draw from the file, or refuse untouched.
    static void end_file(os::region_file& file, os::file_facts const& facts,
                         std::string const& what,
                         std::optional<atomic_counter::region_id> const& only) {
        const std::uint64_t size = region_bytes(facts);
        const auto not_that_region = [&] {
            on_error_system(ENOENT, what + ": no longer holds the region " + only->to_string() +
                                        " (it was unlinked); what has the name now is left alone");
        };
        if (only && size < value_field_end) {
            not_that_region();
        }
        if (size == 0 && !file.builds_unnamed()) {
            // macOS shared memory: an exclusive creator has made the name and not sized it.
            on_error_system(EAGAIN, what + ": being created; retry");
        }
        if (size < value_field_end) {
            // Emptied or cut short of the value field: the field reads as zero (the end) in
            // every holder's page, or the page is gone (a touch faults). None can draw.
            return;
        }
        os::mapping page = file.map(region_size);  // unmapped on return: Windows removes no
        auto& h = *static_cast<region_header*>(page.address());  // mapped file
        // Relaxed: the decision needs no other field ordered with it; the end is a store.
        const std::uint64_t stored = h.value.load(std::memory_order_relaxed);
        if (only && (h.magic != region_magic || h.version != region_version ||
                     atomic_counter::region_id{h.id[0], h.id[1]} != *only)) {
            not_that_region();
        }
        if (h.magic == region_magic && h.version == region_version) {
            // The page has data (its magic), so storing into it needs no new block.
            if (stored != 0 || h.state.load(std::memory_order_relaxed) != state_ended) {
                end_sequence(h);
            }
            os::clear_write_error(h.id);  // ended: no open of it draws again
            return;
        }
        if (h.magic == region_magic) {
            on_error_corrupt(what + ": region format version " + std::to_string(h.version) +
                             ", this library reads version " + std::to_string(region_version) +
                             ": its sequence cannot be ended from here (end it with the build "
                             "that made it, or stop every process using it and remove the "
                             "file); left untouched");
        }
        if (stored != 0) {
            on_error_corrupt(what + ": not an atomic_counter region, so nothing to end; unlink() "
                                    "removes only regions (and files nothing can draw from); left "
                                    "untouched");
        }
        // Not ours by its first bytes, but its value field is zero (a page zeroed or cut under
        // its holders): no holder of this format can draw from it.
    }

    // Magic, version, kind and checksum: a header this library wrote.
    static bool fixed_fields_valid(region_header const& h) noexcept {
        return h.magic == region_magic && h.version == region_version &&
               (h.kind == static_cast<std::uint32_t>(region_kind::time_counter) ||
                (h.kind == static_cast<std::uint32_t>(region_kind::counter) && h.interval != 0)) &&
               h.checksum == header_checksum(&h);
    }

    // Takes the region's lock, waiting while a live process holds it (an unlinker, or a
    // creator of a version that initialised in place), at most until `deadline`; unsupported
    // where nothing locks (macOS shared memory). std::domain_error past the deadline.
    static os::lock_result wait_for_lock(os::region_file& file,
                                         std::chrono::steady_clock::time_point deadline,
                                         std::string const& what) {
        auto pause = std::chrono::microseconds(50);
        for (;;) {
            const os::lock_result lock = file.try_lock();
            if (lock != os::lock_result::busy) {
                return lock;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                on_error_corrupt(what +
                                 ": another process has held the region's lock for more "
                                 "than " +
                                 std::to_string(init_timeout.count()) +
                                 " ms; it is alive (a lock dies with its holder): if it is "
                                 "stopped or hung, resume or end it, then retry");
            }
            std::this_thread::sleep_for(pause);
            pause = (std::min)(pause * 2, std::chrono::microseconds(2000));
        }
    }

    // The size a region's storage reports, or 0 for a new one; a size the OS rounded up to its
    // page counts as the region's.
    static std::uint64_t region_bytes(os::file_facts const& facts) noexcept {
        const std::uint64_t r = facts.size_rounding;
        if (r > 1 && facts.size == (region_size + r - 1) / r * r) {
            return region_size;
        }
        return facts.size;
    }

    void map(os::region_file& file) {
        if (header_ == nullptr) {
            mapping_ = file.map(region_size);
            header_ = static_cast<region_header*>(mapping_.address());
        }
    }

    void unmap() {
        mapping_ = os::mapping();
        header_ = nullptr;
        created_ = false;
    }

    void validate_name(char const* api) const {
        if (name_.empty() || name_.size() > 255 || name_.find('\0') != std::string::npos) {
            on_error_invalid_argument(std::string(api) +
                                      ": name must be 1 to 255 characters without NUL, got '" +
                                      name_ + "'");
        }
    }

    // Refuses, before reading a byte, storage that another user could have planted or can write,
    // and storage of a size no region of ours has under its name.
    void check_storage(os::region_file const& file, os::file_facts const& facts,
                       region_options const& options, char const* api) const {
        if (!facts.regular) {
            on_error_corrupt(describe(api) + ": not a regular file; left untouched");
        }
        if (facts.links != 1) {
            on_error_system(EPERM, describe(api) + ": has " + std::to_string(facts.links) +
                                       " hard links; refused (another name could reach it)");
        }
        if (!facts.owned_by_me && !options.allow_other_owner) {
            on_error_system(EACCES,
                            describe(api) + ": owned by user " + facts.owner +
                                ", not by this process's user " + facts.me +
                                "; another user can set its value at will. Pass "
                                "allow_other_owner=True only for a region shared on purpose");
        }
        if (facts.writable_by_others && (options.mode & 0002u) == 0) {
            on_error_system(EACCES, describe(api) + ": writable by every user (mode " +
                                        os::octal(facts.mode) +
                                        "), which mode=" + os::octal(options.mode) +
                                        " does not grant; any user could set its value");
        }
        const std::uint64_t size = region_bytes(facts);
        if (size == 0 && file.builds_unnamed()) {
            on_error_corrupt(describe(api) + ": empty (0 bytes, expected " +
                             std::to_string(region_size) +
                             "): truncated, never a region this library made (a new region "
                             "gets its name only once complete); left untouched");
        }
        if (size != 0 && size != region_size) {
            on_error_corrupt(describe(api) + ": " +
                             (size < region_size ? "truncated" : "wrong size") + " (" +
                             std::to_string(size) + " bytes, expected " +
                             std::to_string(region_size) + "); left untouched");
        }
    }

    // Whether the page may be initialised in place by the lock's holder: begun by one of ours
    // that died before publishing it (our magic and version first; no value was handed out),
    // or, on storage initialised in place, all zero (new).
    bool initialisable(os::region_file const& file) const noexcept {
        if (header_->magic == region_magic && header_->version == region_version) {
            return true;
        }
        if (file.builds_unnamed()) {
            return false;  // our regions get their name complete: an all-zero page is damage
        }
        auto const* bytes = reinterpret_cast<unsigned char const*>(header_);
        for (std::size_t i = 0; i < sizeof(region_header); ++i) {
            const bool in_state = i >= offsetof(region_header, state) &&
                                  i < offsetof(region_header, state) + sizeof(std::uint32_t);
            if (!in_state && bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }

    [[noreturn]] void on_not_initialisable(char const* api) const {
        on_error_corrupt(describe(api) +
                         (header_->magic == region_magic
                              ? ": region format version " + std::to_string(header_->version) +
                                    ", this library reads version " + std::to_string(region_version)
                              : std::string(": not an atomic_counter region (unknown header)")) +
                         "; left untouched");
    }

    // Refuses a state no process of ours writes. Reads only the atomic state and, once a state
    // is known to be foreign, the magic (nobody of ours is writing it then).
    void check_state(std::uint32_t state, char const* api) const {
        if (state > state_unstarted) {
            on_error_corrupt(
                describe(api) +
                (header_->magic == region_magic
                     ? ": corrupt header (state " + std::to_string(state) + ")"
                     : std::string(": not an atomic_counter region (unknown header)")) +
                "; left untouched");
        }
    }

    enum class outcome { opened, ended };

    // The open protocol (see the top of this file): attach to a published region that has the
    // name, or build a new one unnamed and publish it; initialise in place only where storage
    // cannot be built unnamed (or in a page an older version began).
    template <class Start>
    void open(region_params const& params, region_options const& options, char const* api,
              std::uint64_t base_default, std::uint64_t interval_default, Start& start) {
        for (int round = 0; round < 100; ++round) {
            unmap();
            file_.reset();
            file_.emplace(path_, is_path_, !options.only_region, options.mode, region_size,
                          describe(api));
            os::region_file& file = *file_;
            if (file.created() && !file.published()) {
                if (create_unnamed(file, params, api, base_default, interval_default, start)) {
                    return;
                }
                continue;  // another creator published first: attach to theirs
            }
            os::file_facts facts = file.facts();
            if (facts.links == 0) {
                continue;  // unlinked between our open and our fstat: open the name again
            }
            if (facts.links == 2 && file.finish_publication()) {
                facts = file.facts();  // a creator's temporary name removed: see region_file
            }
            check_storage(file, facts, options, api);
            device_ = facts.device;
            inode_ = facts.inode;
            birth_ = facts.birth;
            generation_ = facts.generation;
            if (region_bytes(facts) == region_size) {
                file.allocate(region_size);  // before the first store into the page
            }
            if (open_or_initialise(file, params, options, api, base_default, interval_default,
                                   start) == outcome::opened) {
                return;
            }
            // an unlinker died before removing the name: it was removed, start over
        }
        on_error_system(EAGAIN, describe(api) +
                                    ": the name kept being unlinked and created again while "
                                    "opening; retry");
    }

    // Builds the region in the new unnamed object and publishes it; false (and nothing kept)
    // when another region got the name first.
    template <class Start>
    bool create_unnamed(os::region_file& file, region_params const& params, char const* api,
                        std::uint64_t base_default, std::uint64_t interval_default, Start& start) {
        file.allocate(region_size);  // ENOSPC here, not SIGBUS below
        const os::file_facts facts = file.facts();
        device_ = facts.device;
        inode_ = facts.inode;
        birth_ = facts.birth;
        generation_ = facts.generation;
        map(file);
        initialise(params, base_default, interval_default, start,
                   params.clock_start ? state_unstarted : state_ready);
        if (header_->durable_block != 0) {
            sync(api);  // the name never shows a durable page that is not on the disk
        }
        if (file.publish()) {
            return true;
        }
        unmap();
        return false;
    }

    // Attaches to a published region, or takes the lock and initialises one in place (storage
    // that cannot be built unnamed, or a page an older version began), or waits for the live
    // holder of the lock to finish. outcome::ended when the name held an ended region (now
    // removed).
    template <class Start>
    outcome open_or_initialise(os::region_file& file, region_params const& params,
                               region_options const& options, char const* api,
                               std::uint64_t base_default, std::uint64_t interval_default,
                               Start& start) {
        const auto deadline = std::chrono::steady_clock::now() + init_timeout;
        std::uint64_t size = region_bytes(file.facts());
        auto pause = std::chrono::microseconds(50);
        for (;;) {
            if (size == region_size) {
                map(file);
                // Acquire: pairs with the initialiser's release store of the state.
                const std::uint32_t state = header_->state.load(std::memory_order_acquire);
                check_state(state, api);
                if (state == state_ready || state == state_unstarted) {
                    return outcome::opened;
                }
                if (state == state_ended) {
                    remove_ended(file, deadline, api);
                    return outcome::ended;
                }
                if (!initialisable(file)) {
                    on_not_initialisable(api);  // no wait: nothing of ours makes such a page
                }
            }
            const os::lock_result lock = file.try_lock();
            if (lock == os::lock_result::unsupported && file.created()) {
                // Nothing can lock it, but this process's exclusive create made the name.
                file.allocate(region_size);
                map(file);
                initialise(params, base_default, interval_default, start, state_ready);
                return outcome::opened;
            }
            if (lock == os::lock_result::locked) {
                return initialise_locked(file, params, options, api, base_default, interval_default,
                                         start, deadline);
            }
            // The lock is held, so its holder is alive and initialising the region now (or, where
            // nothing locks, the exclusive creator is).
            if (std::chrono::steady_clock::now() > deadline) {
                on_creator_not_finishing(lock, api);
            }
            std::this_thread::sleep_for(pause);
            pause = (std::min)(pause * 2, std::chrono::microseconds(2000));
            if (size != region_size) {
                size = region_bytes(file.facts());
            }
        }
    }

    // Under the lock: attaches to a region published before the lock was taken, or initialises
    // the region in place (new, or begun by a creator that died).
    template <class Start>
    outcome initialise_locked(os::region_file& file, region_params const& params,
                              region_options const& options, char const* api,
                              std::uint64_t base_default, std::uint64_t interval_default,
                              Start& start, std::chrono::steady_clock::time_point deadline) {
        unlock_on_exit unlock{file, os::lock_result::locked};
        const std::uint64_t size = region_bytes(file.facts());
        if (size == 0) {
            refuse_if_only_region(options, api);
            file.allocate(region_size);
        } else if (size != region_size) {
            on_error_corrupt(describe(api) + ": changed size (" + std::to_string(size) +
                             " bytes) while opening; left untouched");
        }
        map(file);
        // Acquire: pairs with the initialiser's release store of the state.
        const std::uint32_t state = header_->state.load(std::memory_order_acquire);
        check_state(state, api);
        if (state == state_ready || state == state_unstarted) {
            return outcome::opened;
        }
        if (state == state_ended) {
            file.unlock();
            unlock.lock = os::lock_result::unsupported;  // released above
            remove_ended(file, deadline, api);
            return outcome::ended;
        }
        if (!initialisable(file)) {
            on_not_initialisable(api);
        }
        refuse_if_only_region(options, api);
        // In place, the name exists already: a start from the clock is read after it.
        initialise(params, base_default, interval_default, start, state_ready);
        return outcome::opened;
    }

    // The name holds a region unlink() ended, and whoever ended it has not removed the name yet
    // (or died before it could, perhaps even before storing the end): once its lock is free,
    // store the end (again) and remove the name if it still names this region, as that unlink()
    // would have. Damage that only looks ended is refused untouched.
    void remove_ended(os::region_file& file, std::chrono::steady_clock::time_point deadline,
                      char const* api) {
        if (!fixed_fields_valid(*header_)) {
            on_error_corrupt(describe(api) +
                             ": corrupt header (state ended, but the fixed fields or their "
                             "checksum are not a region's); left untouched");
        }
        const unlock_on_exit unlock{file, wait_for_lock(file, deadline, describe(api))};
        end_sequence(*header_);
        unmap();  // Windows removes no mapped file
        file.remove_name();
    }

    // A pickle attaches to one region only; a name whose region was never initialised is another.
    void refuse_if_only_region(region_options const& options, char const* api) const {
        if (options.only_region) {
            on_error_invalid_argument(describe(api) +
                                      ": another region, never initialised, now has the name");
        }
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_creator_not_finishing(os::lock_result lock,
                                                                       char const* api) const {
        if (lock == os::lock_result::busy) {
            on_error_corrupt(describe(api) +
                             ": another process has held the region's creation lock for more "
                             "than " +
                             std::to_string(init_timeout.count()) +
                             " ms without finishing; it is alive (a lock dies with its holder): "
                             "if it is stopped or hung, resume or end it, then retry");
        }
        const std::uint32_t pid = header_ != nullptr ? header_->creator_pid : 0;
        on_error_corrupt(describe(api) + ": the process that created it" +
                         (pid != 0 ? " (pid " + std::to_string(pid) + ", " +
                                         (os::process_alive(pid) ? "alive" : "gone") + ")"
                                   : std::string()) +
                         " has not finished initialising it within " +
                         std::to_string(init_timeout.count()) +
                         " ms; if it is gone, remove the name (unlink) and retry");
    }

    template <class Start>
    void initialise(region_params const& params, std::uint64_t base_default,
                    std::uint64_t interval_default, Start& start, std::uint32_t published_state) {
        region_header& h = *header_;
        const std::uint64_t base = params.base.value_or(base_default);
        const std::uint64_t interval = params.interval.value_or(interval_default);
        // May throw (a clock before base, or past a layout's end): before any byte is written,
        // so the page stays as it was (and an unnamed one is dropped).
        const std::uint64_t first = start(base, interval, false);
        // The lock (or an unnamed object) orders these writes against any other initialiser;
        // attachers read them only after the release store of the state below.
        h.magic = region_magic;
        h.version = region_version;
        h.state.store(state_initialising, std::memory_order_relaxed);
        h.kind = static_cast<std::uint32_t>(params.kind);
        h.base = base;
        h.interval = interval;
        h.durable_block = params.durability.block();
        h.start = first;
        os::random_bytes(h.id, sizeof h.id);
        if (h.id[0] == 0 && h.id[1] == 0) {
            h.id[1] = 1;  // the all-zero id means "none" to a reader
        }
        h.creator_pid = os::current_pid();
        h.checksum = header_checksum(&h);
        // Relaxed: published with everything else by the release store below.
        h.value.store(end_mark(h) - h.start, std::memory_order_relaxed);
        h.reserved.store(h.start, std::memory_order_relaxed);
        h.persisted.store(h.start, std::memory_order_relaxed);
        if (h.durable_block != 0) {
            record_open();  // created in this boot, as this file
        }
        // Release: a process that reads the state (acquire) sees every field written above.
        h.state.store(published_state, std::memory_order_release);
        created_ = true;
    }

    // A region published unstarted (its start read from the clock before it had its name, by a
    // creator that may have been stopped for any time before publishing): lift the value to a
    // start read from the clock now, after the name exists, then mark it ready. Any opener does
    // this, the creator first; the lift is a maximum, so a late one only raises the value, and
    // no holder draws before some opener has made it ready.
    template <class Start>
    void finish(Start& start) {
        region_header& h = *header_;
        std::optional<std::uint64_t> first;
        try {
            first = start(h.base, h.interval, true);
        } catch (std::invalid_argument const&) {  // the clock reads before base: the start stands
        } catch (std::overflow_error const&) {
        }
        if (first) {
            stored_value v = value();
            fetch_max(v, *first);  // relaxed: published by the release below
        }
        std::uint32_t expected = state_unstarted;
        // Release: an opener that reads ready (acquire) sees the lift. A region ended
        // meanwhile stays ended.
        h.state.compare_exchange_strong(expected, state_ready, std::memory_order_release,
                                        std::memory_order_relaxed);
    }

    // A durable region opened by attaching: makes sure the disk holds its name and has reported
    // any write-back error, then decides whether the page in memory can be trusted (see
    // check_boot).
    void open_durable(char const* api) {
        int err = 0;
        blocking([&] { err = file_->sync_file(); });
        if (err != 0) {
            // A write-back error nobody had seen: the page in memory may have been dropped and
            // read back older. Marked, so this open and every later one in the boot lift.
            mark_write_error();
        }
        if (is_path_) {
            // No value is handed out under a name that a crash could still take away.
            blocking([&] { os::sync_directory(os::parent_directory(path_), describe(api)); });
        }
        check_boot(api);
        after_reboot_ = after_reboot_ || err != 0;
    }

    // A durable region opened by attaching: the page must be this file's (the file that last
    // opened it: its inode, and where the file system says, when the inode was made; the device
    // too within a boot, as device numbers can change across boots). A page found in another file
    // is a copy (a backup restored, a file moved to another file system), which could hand out
    // again every value issued since it was made: refused. Then the value is lifted past
    // `reserved` unless the page in memory is provably the newest: recorded in this boot, and no
    // write-back error marked in this boot.
    void check_boot(char const* api) {
        region_header const& h = *header_;
        std::uint64_t boot[2];
        os::boot_id(boot);
        // Acquire: pairs with record_open()'s release store of the second half.
        const std::uint64_t recorded_low = h.boot[1].load(std::memory_order_acquire);
        const std::uint64_t recorded_high = h.boot[0].load(std::memory_order_relaxed);
        const bool same_boot =
            !(boot[0] == 0 && boot[1] == 0) && recorded_high == boot[0] && recorded_low == boot[1];
        // Relaxed: published with the boot, above.
        const std::uint64_t device = h.device.load(std::memory_order_relaxed);
        const std::uint64_t inode = h.inode.load(std::memory_order_relaxed);
        const std::uint64_t birth = h.birth.load(std::memory_order_relaxed);
        const std::uint64_t generation = h.generation.load(std::memory_order_relaxed);
        const auto differs = [](std::uint64_t recorded, std::uint64_t now) {
            return recorded != 0 && now != 0 && recorded != now;  // 0: not known
        };
        const bool recorded_any = inode != 0 || device != 0;
        if (recorded_any &&
            (inode != inode_ || differs(birth, birth_) || differs(generation, generation_) ||
             (same_boot && device != device_))) {
            on_error_corrupt(
                describe(api) + ": its page was recorded " + (same_boot ? "in this boot " : "") +
                "by another file (device " + std::to_string(device) + ", inode " +
                std::to_string(inode) + (differs(birth, birth_) ? ", made at another time" : "") +
                (differs(generation, generation_) ? ", another inode generation" : "") +
                "; this is device " + std::to_string(device_) + ", inode " +
                std::to_string(inode_) +
                "): a copy, or restored from one, which could hand out values issued since the "
                "copy was made. To continue from it, remove it, create the region again and "
                "advance_to() above the last value issued; left untouched");
        }
        after_reboot_ = !same_boot || os::write_error_marked(h.id);
    }

    void check(region_params const& params, region_options const& options, char const* api) const {
        region_header const& h = *header_;
        if (h.magic != region_magic) {
            on_error_corrupt(describe(api) + ": not an atomic_counter region (bad magic); left "
                                             "untouched");
        }
        if (h.version != region_version) {
            on_error_corrupt(describe(api) + ": region format version " +
                             std::to_string(h.version) + ", this library reads version " +
                             std::to_string(region_version) + "; left untouched");
        }
        if (h.kind != static_cast<std::uint32_t>(region_kind::counter) &&
            h.kind != static_cast<std::uint32_t>(region_kind::time_counter)) {
            on_error_corrupt(describe(api) + ": corrupt header (unknown kind (" +
                             std::to_string(h.kind) + ")); left untouched");
        }
        if (h.checksum != header_checksum(&h)) {
            on_error_corrupt(describe(api) +
                             ": corrupt header (the checksum of kind, base, interval, "
                             "durable_block, start and id does not match); left untouched");
        }
        check_moving_fields(api);
        if (options.only_region &&
            *options.only_region != atomic_counter::region_id{h.id[0], h.id[1]}) {
            on_error_invalid_argument(describe(api) + ": another region (id " +
                                      atomic_counter::region_id{h.id[0], h.id[1]}.to_string() +
                                      ") now has the name; the one asked for (id " +
                                      options.only_region->to_string() +
                                      ") was unlinked or replaced");
        }
        if (h.kind != static_cast<std::uint32_t>(params.kind)) {
            const auto kind_name = [](std::uint32_t k) {
                return k == 1 ? std::string("a SharedCounter") : std::string("a SharedTimeCounter");
            };
            on_error_invalid_argument(describe(api) + ": the region holds " + kind_name(h.kind) +
                                      ", not " +
                                      kind_name(static_cast<std::uint32_t>(params.kind)));
        }
        const auto mismatch = [&](char const* what, std::uint64_t asked, std::uint64_t has) {
            on_error_invalid_argument(describe(api) + ": " + what + " " + std::to_string(asked) +
                                      " differs from the region's " + std::to_string(has));
        };
        if (params.base && *params.base != h.base) {
            mismatch("base", *params.base, h.base);
        }
        if (params.interval && *params.interval != h.interval) {
            mismatch("interval", *params.interval, h.interval);
        }
        const atomic_counter::durability& d = params.durability;
        if (d.given() && d.block() != h.durable_block) {
            if (!d.durable() || h.durable_block == 0) {
                on_error_invalid_argument(describe(api) +
                                          ": durable=" + (d.durable() ? "True" : "False") +
                                          " differs from the region's durable=" +
                                          (h.durable_block != 0 ? "True" : "False"));
            }
            mismatch("block", d.block(), h.durable_block);
        }
    }

    // The fields that move cannot carry a checksum (they change with every reservation); they
    // obey orderings instead, which damage almost always breaks.
    void check_moving_fields(char const* api) const {
        region_header const& h = *header_;
        // Relaxed: a snapshot; both only grow, reserved first (see high_water_mark).
        const std::uint64_t persisted = h.persisted.load(std::memory_order_relaxed);
        const std::uint64_t reserved = h.reserved.load(std::memory_order_relaxed);
        const auto corrupt = [&](char const* field, std::string const& why) {
            on_error_corrupt(describe(api) + ": corrupt header (" + field + " " + why +
                             "); left untouched");
        };
        // Relaxed: as above. Zero is the end mark, which only unlink() stores (with state
        // ended, never attached to): here it is a value field zeroed under its holders.
        if (!created_ && h.value.load(std::memory_order_relaxed) == 0) {
            corrupt("value", "is zero, the end mark: cut off by a truncation, or rewritten as "
                             "zeros, while the region was in use");
        }
        if (persisted < h.start) {
            corrupt("persisted", "(" + std::to_string(persisted) + ") is below start (" +
                                     std::to_string(h.start) + ")");
        }
        if (persisted > reserved) {
            corrupt("persisted", "(" + std::to_string(persisted) + ") is above reserved (" +
                                     std::to_string(reserved) + ")");
        }
        if (h.durable_block == 0 && reserved != h.start) {
            corrupt("reserved", "(" + std::to_string(reserved) +
                                    ") moved in a region that is not durable (start " +
                                    std::to_string(h.start) + ")");
        }
    }

    std::string name_;
    bool is_path_;
    std::string path_;
    blocking_runner run_blocking_;
    std::optional<os::region_file> file_;  // open for the holder's lifetime (unlink())
    os::mapping mapping_;
    region_header* header_ = nullptr;
    bool created_ = false;
    bool after_reboot_ = false;
    std::uint64_t device_ = 0;  // the file's identity, as opened
    std::uint64_t inode_ = 0;
    std::uint64_t birth_ = 0;
    std::uint64_t generation_ = 0;
    std::uint64_t mark_ = 0;  // end_mark(header), read once the header is checked
};

// A mark no value is ever at or below but 0: where a failed high_water_mark points its fast-path
// comparison, so that every draw takes the slow path (and raises).
inline const std::atomic<std::uint64_t> no_mark{0};

// The high-water mark protocol of a durable region, over its reserved/persisted fields. `block_ids`
// is the span of values reserved per msync (0: not durable).
class high_water_mark {
public:
    high_water_mark(shared_region const& region, std::uint64_t block_ids) noexcept
        : region_(&region), block_ids_(block_ids), mark_(&region.header().persisted) {}

    high_water_mark(high_water_mark const&) = delete;
    high_water_mark& operator=(high_water_mark const&) = delete;

    bool enabled() const noexcept { return block_ids_ != 0; }

    // Returns once `last` (a value just drawn, not yet handed out) is covered by a persisted
    // high-water mark. One acquire load when it already is; otherwise reserves a further block
    // and msyncs the page, in whichever thread or process gets here: no lock is held, so a
    // crashed process blocks nobody.
    void cover(std::uint64_t last, char const* api) const {
        if (block_ids_ == 0) {
            return;
        }
        // Relaxed (the pointer): it changes once, to no_mark, after a failed msync; a thread
        // that still reads the old one draws only values below the last mark that reached the
        // disk. Acquire (the mark): pairs with the release store below, made only after msync
        // returned.
        if (ATOMIC_COUNTER_UNLIKELY(
                last > mark_.load(std::memory_order_relaxed)->load(std::memory_order_acquire))) {
            persist_through(last, api);
        }
    }

    // On opening an existing durable region: when the page may have come back from the disk
    // (see shared_region::opened_after_reboot), lift the value above the high-water mark,
    // keeping its residue modulo `step`, so that no value at or below anything handed out
    // before is drawn again (a gap of at most one block); then record this boot. Otherwise the
    // page is as the last draw left it.
    void open(std::uint64_t step) const {
        if (block_ids_ == 0) {
            return;
        }
        if (region_->opened_after_reboot()) {
            skip_past_reserved(step);
        }
        region_->record_open();
    }

private:
    void skip_past_reserved(std::uint64_t step) const {
        region_header& h = region_->header();
        // Relaxed: reserved only grows, and fetch_update works on the latest value.
        const std::uint64_t floor = h.reserved.load(std::memory_order_relaxed);
        stored_value value = region_->value();
        fetch_update(value, [&](std::uint64_t v) {
            if (v >= floor) {
                return v;
            }
            const std::uint64_t steps = (floor - v + step - 1) / step;
            return steps > (std::uint64_t(-1) - v) / step ? std::uint64_t(-1) : v + steps * step;
        });
    }

    ATOMIC_COUNTER_NOINLINE void persist_through(std::uint64_t last, char const* api) const {
        // Relaxed: set once, before the pointer above changes, by this object's failed msync.
        if (const int failed = failed_.load(std::memory_order_relaxed); failed != 0) {
            on_durability_lost(failed, "an earlier msync", api);
        }
        region_header& h = region_->header();
        const std::uint64_t target =
            last > std::uint64_t(-1) - block_ids_ ? std::uint64_t(-1) : last + block_ids_;
        // Relaxed: the mark only has to reach memory before msync, which is a system call that
        // writes out the page as it stands when it runs.
        const std::uint64_t reserved = fetch_max(h.reserved, target);
        const std::uint64_t covered = reserved < target ? target : reserved;
        // Relaxed, as the mark: a store into the page makes it dirty, so the msync below writes
        // it even where an earlier write-back failed and left it clean with its data dropped.
        h.syncs.fetch_add(1, std::memory_order_relaxed);
        try {
            region_->sync(api);
        } catch (std::system_error const& e) {
            // The kernel reports a write-back error once: a later msync could return success for
            // a page it never wrote. This open is done: every draw through it raises. And the
            // page in memory may be dropped and read back older from the disk: every later open
            // in this boot lifts past reserved (the mark is made before this draw raises).
            region_->mark_write_error();
            failed_.store(e.code().value() != 0 ? e.code().value() : EIO,
                          std::memory_order_relaxed);
            mark_.store(&no_mark, std::memory_order_relaxed);
            on_durability_lost(e.code().value(), "msync", api);
        }
        // Release: a thread that reads persisted >= v (acquire) knows the msync has returned.
        fetch_max(h.persisted, covered, std::memory_order_release);
    }

    [[noreturn]] ATOMIC_COUNTER_NOINLINE void on_durability_lost(int err, char const* what,
                                                                 char const* api) const {
        on_error_system(err, std::string(api) + " '" + region_->name() + "': " + what +
                                 " failed, so the disk may not hold the high-water mark; the "
                                 "region's durability is lost for this open: every draw raises "
                                 "until the region is opened again");
    }

    shared_region const* region_;
    std::uint64_t block_ids_;
    mutable std::atomic<std::atomic<std::uint64_t> const*> mark_;
    mutable std::atomic<int> failed_{0};
};

}  // namespace detail
}  // namespace atomic_counter

#endif  // ATOMIC_COUNTER_DETAIL_SHARED_REGION_HPP
