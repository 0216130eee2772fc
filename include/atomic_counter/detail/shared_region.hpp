// atomic_counter/detail/shared_region.hpp: the memory-mapped region that holds a shared counter,
// its header, and the create-or-attach protocol every process follows (POSIX only).
//
// A name without '/' is a POSIX shared-memory object (shm_open, /dev/shm on Linux: survives any
// process, not a reboot); a name with '/' is a file path (survives a reboot; with durability on,
// a machine crash too).
//
// Region layout, one 4096-byte page, native byte order:
//
//   offset  field                      written
//        0  magic        u64           last, by the initialising process
//        8  version      u32           at initialisation
//       12  kind         u32           1 = counter, 2 = time_counter
//       16  base         u64           counter: base ns; time_counter: 0
//       24  interval     u64           counter: interval; time_counter: 0
//       32  durable_block u64          0: not durable; else draws (counter) or us (time_counter)
//       64  state        atomic u32    0 empty, 1 initialising, 2 ready
//      128  value        atomic u64    the counter, on a cache line of its own
//      192  reserved     atomic u64    durable: every value handed out is <= persisted
//      200  persisted    atomic u64      <= reserved; both are raised before values pass them
//
// Create-or-attach, the same code in every process:
// 1. open(O_RDWR | O_CREAT). A file that cannot be opened for writing gives system_error
//    (EACCES: PermissionError in Python).
// 2. fstat. Size 0: new (maybe another process's, just created): ftruncate to 4096, which is
//    idempotent when several processes race here. 0 < size < 4096: truncated; > 4096: wrong
//    size. Both are errors that leave the file untouched.
// 3. mmap the page, then race on `state`: the one process whose compare-exchange takes it from
//    0 to 1 writes the header and the start value, then magic, then state = 2 (release). Every
//    other process waits for state == 2 (acquire; at most init_timeout, after which the
//    initialiser is presumed dead) and then checks magic, version, kind and parameters. A state
//    of 0 is accepted only when the whole header is zero (a file that is not ours stays
//    untouched); any other state is corruption.
#ifndef ATOMIC_COUNTER_DETAIL_SHARED_REGION_HPP
#define ATOMIC_COUNTER_DETAIL_SHARED_REGION_HPP

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "error.hpp"

namespace atomic_counter::detail {

enum class region_kind : std::uint32_t { counter = 1, time_counter = 2 };

inline constexpr std::uint64_t region_magic = 0x3152544E43434D41ULL;  // "AMCCNTR1"
inline constexpr std::uint32_t region_version = 1;
inline constexpr std::size_t region_size = 4096;
// How long an attaching process waits for another one to finish creating a region before it
// presumes that process dead. Overridable for tests and fuzzing.
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
    std::uint64_t unused_[3];
    std::atomic<std::uint32_t> state;
    char pad1_[60];
    std::atomic<std::uint64_t> value;
    char pad2_[56];
    std::atomic<std::uint64_t> reserved;
    std::atomic<std::uint64_t> persisted;
};
static_assert(offsetof(region_header, state) == 64, "layout");
static_assert(offsetof(region_header, value) == 128, "layout");
static_assert(offsetof(region_header, reserved) == 192, "layout");
static_assert(sizeof(region_header) <= region_size, "layout");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free &&
                  std::atomic<std::uint64_t>::is_always_lock_free,
              "shared counters need address-free, lock-free atomics");

enum : std::uint32_t { state_empty = 0, state_initialising = 1, state_ready = 2 };

// What a creator writes, and what an attacher checks (nullopt: accept the region's).
struct region_params {
    region_kind kind;
    std::uint64_t base;           // written when creating; checked when given
    bool check_base;
    std::uint64_t interval;
    bool check_interval;
    std::uint64_t durable_block;  // 0: not durable
    bool check_durable;
};

[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_system(int err, std::string const& msg) {
    throw std::system_error(err, std::generic_category(), msg);
}

[[noreturn]] ATOMIC_COUNTER_NOINLINE inline void on_error_corrupt(std::string const& msg) {
    throw std::domain_error(msg);
}

// An open mapping of one region. Move-only; unmaps on destruction.
class shared_region {
public:
    // Opens (creating if needed) the region `name` and returns it initialised. `init` writes the
    // start value into a region this process creates; it runs before the region is published.
    template <class Init>
    shared_region(std::string name, region_params const& params, char const* api, Init&& init)
        : name_(std::move(name)), is_file_(name_.find('/') != std::string::npos) {
        validate_name(api);
        const int fd = open_fd(api);
        struct stat st{};
        if (fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            on_error_system(err, describe(api) + ": fstat failed");
        }
        if (st.st_size == 0) {
            if (ftruncate(fd, static_cast<off_t>(region_size)) != 0) {
                const int err = errno;
                ::close(fd);
                on_error_system(err, describe(api) + ": could not size the new region");
            }
        } else if (static_cast<std::size_t>(st.st_size) != region_size) {
            ::close(fd);
            on_error_corrupt(describe(api) + ": " +
                             (static_cast<std::size_t>(st.st_size) < region_size ? "truncated"
                                                                                 : "wrong size") +
                             " (" + std::to_string(st.st_size) + " bytes, expected " +
                             std::to_string(region_size) + "); left untouched");
        }
        void* address = mmap(nullptr, region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        const int map_err = errno;
        ::close(fd);  // the mapping keeps the object alive
        if (address == MAP_FAILED) {
            on_error_system(map_err, describe(api) + ": mmap failed");
        }
        header_ = static_cast<region_header*>(address);
        try {
            created_ = initialise_or_wait(params, api, init);
            check(params, api);
        } catch (...) {
            munmap(address, region_size);
            throw;
        }
    }

    shared_region(shared_region const&) = delete;
    shared_region& operator=(shared_region const&) = delete;
    ~shared_region() {
        if (header_ != nullptr) {
            munmap(header_, region_size);
        }
    }

    region_header& header() const noexcept { return *header_; }
    std::string const& name() const noexcept { return name_; }
    bool created() const noexcept { return created_; }

    // Flushes the page to its file and waits for the write (MS_SYNC).
    void sync(char const* api) const {
        if (msync(header_, region_size, MS_SYNC) != 0) {
            on_error_system(errno, describe(api) + ": msync failed");
        }
    }

    // Removes the name (the region lives on while mapped). ENOENT when it is already gone.
    static void unlink(std::string const& name, char const* api) {
        const bool is_file = name.find('/') != std::string::npos;
        const int rc = is_file ? ::unlink(name.c_str()) : shm_unlink(("/" + name).c_str());
        if (rc != 0) {
            on_error_system(errno, std::string(api) + " '" + name + "': unlink failed");
        }
    }

    static bool names_file(std::string const& name) {
        return name.find('/') != std::string::npos;
    }

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
    std::string describe(char const* api) const { return std::string(api) + " '" + name_ + "'"; }

    void validate_name(char const* api) const {
        if (name_.empty() || name_.size() > 255 || name_.find('\0') != std::string::npos) {
            on_error_invalid_argument(std::string(api) +
                                      ": name must be 1 to 255 characters without NUL, got '" +
                                      name_ + "'");
        }
    }

    int open_fd(char const* api) const {
        const int flags = O_RDWR | O_CREAT | O_CLOEXEC;
        const int fd = is_file_ ? ::open(name_.c_str(), flags, 0666)
                                : shm_open(("/" + name_).c_str(), flags, 0666);
        if (fd < 0) {
            on_error_system(errno, describe(api) + ": cannot open for reading and writing");
        }
        return fd;
    }

    // Whether every header byte but the state is zero: a fresh region, or a claimed one whose
    // creator has not written anything yet.
    bool fields_are_zero() const noexcept {
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

    template <class Init>
    bool initialise_or_wait(region_params const& params, char const* api, Init& init) {
        // Acquire: pairs with the initialiser's release store of state_ready.
        std::uint32_t state = header_->state.load(std::memory_order_acquire);
        if (state == state_empty && !fields_are_zero()) {
            // Either a file that is not ours, or a creator that claimed the region after our
            // load and has begun writing. A creator claims the state before it writes any field
            // (its release fence), so having seen a written field, this acquire fence and load
            // see the claim; a state still empty means the fields were never ours.
            std::atomic_thread_fence(std::memory_order_acquire);
            state = header_->state.load(std::memory_order_acquire);
            if (state == state_empty) {
                on_error_corrupt(describe(api) + ": not an atomic_counter region (unknown "
                                                 "header); left untouched");
            }
        }
        if (state == state_empty) {
            // Relaxed claim: the fields are published by the release store of state_ready.
            if (header_->state.compare_exchange_strong(state, state_initialising,
                                                       std::memory_order_relaxed,
                                                       std::memory_order_relaxed)) {
                // Release: the claim is ordered before every field written below (see above).
                std::atomic_thread_fence(std::memory_order_release);
                header_->version = region_version;
                header_->kind = static_cast<std::uint32_t>(params.kind);
                header_->base = params.base;
                header_->interval = params.interval;
                header_->durable_block = params.durable_block;
                init(*header_);
                header_->magic = region_magic;
                // Release: a process that reads ready (acquire) sees every field written above.
                header_->state.store(state_ready, std::memory_order_release);
                return true;
            }
        }
        const auto deadline = std::chrono::steady_clock::now() + init_timeout;
        // Acquire: pairs with the initialiser's release store of state_ready.
        while ((state = header_->state.load(std::memory_order_acquire)) != state_ready) {
            if (state != state_empty && state != state_initialising) {
                on_error_corrupt(describe(api) +
                                 (header_->magic == region_magic
                                      ? ": corrupt header (state " + std::to_string(state) + ")"
                                      : std::string(": not an atomic_counter region (unknown "
                                                    "header)")) +
                                 "; left untouched");
            }
            if (std::chrono::steady_clock::now() > deadline) {
                on_error_corrupt(describe(api) +
                                 ": another process began initialising the region and did not "
                                 "finish within " + std::to_string(init_timeout.count()) +
                                 " ms (did it crash?); unlink it and retry");
            }
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        return false;
    }

    void check(region_params const& params, char const* api) const {
        region_header const& h = *header_;
        if (h.magic != region_magic) {
            on_error_corrupt(describe(api) + ": not an atomic_counter region (bad magic); left "
                                             "untouched");
        }
        if (h.version != region_version) {
            on_error_corrupt(describe(api) + ": region format version " +
                             std::to_string(h.version) + ", this library reads version " +
                             std::to_string(region_version));
        }
        if (h.kind != static_cast<std::uint32_t>(params.kind)) {
            const auto kind_name = [](std::uint32_t k) {
                return k == 1 ? std::string("a SharedCounter")
                              : k == 2 ? std::string("a SharedTimeCounter")
                                       : "an unknown kind (" + std::to_string(k) + ")";
            };
            on_error_invalid_argument(describe(api) + ": the region holds " + kind_name(h.kind) +
                                      ", not " + kind_name(static_cast<std::uint32_t>(params.kind)));
        }
        const auto mismatch = [&](char const* what, std::uint64_t asked, std::uint64_t has) {
            on_error_invalid_argument(describe(api) + ": " + what + " " + std::to_string(asked) +
                                      " differs from the region's " + std::to_string(has));
        };
        if (params.check_base && params.base != h.base) {
            mismatch("base", params.base, h.base);
        }
        if (params.check_interval && params.interval != h.interval) {
            mismatch("interval", params.interval, h.interval);
        }
        if (params.check_durable && params.durable_block != h.durable_block) {
            if (params.durable_block == 0 || h.durable_block == 0) {
                on_error_invalid_argument(
                    describe(api) + ": durable=" + (params.durable_block != 0 ? "True" : "False") +
                    " differs from the region's durable=" + (h.durable_block != 0 ? "True" : "False"));
            }
            mismatch("block", params.durable_block, h.durable_block);
        }
    }

    std::string name_;
    bool is_file_;
    region_header* header_ = nullptr;
    bool created_ = false;
};

// The durability protocol over a region's reserved/persisted fields. `block_ids` is the span of
// values reserved per msync (0: not durable).
class durability {
public:
    durability(shared_region const& region, std::uint64_t block_ids) noexcept
        : region_(&region), block_ids_(block_ids) {}

    bool enabled() const noexcept { return block_ids_ != 0; }

    // Returns once `last` (a value just drawn, not yet handed out) is covered by a persisted
    // high-water mark. One acquire load when it already is; otherwise reserves a further block
    // and msyncs the page, in whichever thread or process gets here: no lock is held, so a
    // crashed process blocks nobody.
    void cover(std::uint64_t last, char const* api) const {
        if (block_ids_ == 0) {
            return;
        }
        // Acquire: pairs with the release store below, made only after msync returned.
        if (ATOMIC_COUNTER_UNLIKELY(last > region_->header().persisted.load(
                                               std::memory_order_acquire))) {
            persist_through(last, api);
        }
    }

    // On opening an existing durable region: lift the value above the persisted high-water mark,
    // keeping its residue modulo `step`, so that after a machine crash that lost the latest
    // value, no value at or below anything handed out before is drawn again. Costs a gap of at
    // most one block per open.
    void skip_past_reserved(std::uint64_t step) const {
        region_header& h = region_->header();
        // Relaxed: reserved only grows, and the compare-exchange below works on the latest value.
        const std::uint64_t floor = h.reserved.load(std::memory_order_relaxed);
        std::uint64_t value = h.value.load(std::memory_order_relaxed);
        while (value < floor) {
            const std::uint64_t steps = (floor - value + step - 1) / step;
            const std::uint64_t lifted =
                steps > (std::uint64_t(-1) - value) / step ? std::uint64_t(-1) : value + steps * step;
            if (h.value.compare_exchange_weak(value, lifted, std::memory_order_relaxed,
                                              std::memory_order_relaxed)) {
                break;
            }
        }
    }

private:
    ATOMIC_COUNTER_NOINLINE void persist_through(std::uint64_t last, char const* api) const {
        region_header& h = region_->header();
        const std::uint64_t target =
            last > std::uint64_t(-1) - block_ids_ ? std::uint64_t(-1) : last + block_ids_;
        // Relaxed: the mark only has to reach memory before msync, which is a system call that
        // writes out the page as it stands when it runs.
        std::uint64_t reserved = h.reserved.load(std::memory_order_relaxed);
        while (reserved < target &&
               !h.reserved.compare_exchange_weak(reserved, target, std::memory_order_relaxed,
                                                 std::memory_order_relaxed)) {
        }
        const std::uint64_t covered = reserved < target ? target : reserved;
        region_->sync(api);
        // Release: a thread that reads persisted >= v (acquire) knows the msync has returned.
        std::uint64_t persisted = h.persisted.load(std::memory_order_relaxed);
        while (persisted < covered &&
               !h.persisted.compare_exchange_weak(persisted, covered, std::memory_order_release,
                                                  std::memory_order_relaxed)) {
        }
    }

    shared_region const* region_;
    std::uint64_t block_ids_;
};

}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_SHARED_REGION_HPP
