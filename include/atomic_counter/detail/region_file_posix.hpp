// atomic_counter/detail/region_file_posix.hpp: the POSIX side of a shared region's storage: a
// POSIX shared-memory object (a name without '/') or a file (a path), opened so that another
// local user cannot redirect or plant it, a new region built unnamed and published whole, an
// advisory lock, and the mapping. Chosen by detail/region_file.hpp; shared_region.hpp never sees
// the OS.
//
// Opening, in every process:
// 1. attach: open(O_NOFOLLOW), no O_CREAT (a symlink planted under the name is ELOOP).
// 2. ENOENT, and creating is allowed: make a new object the name does not reach yet. Linux:
//    open(directory, O_TMPFILE) (for a shared-memory name, in /dev/shm, where glibc and musl
//    keep them); elsewhere, or where the file system has no O_TMPFILE, a file of a random name
//    beside it, `.<name>.<16 hex>.tmp`, made with O_CREAT | O_EXCL | O_NOFOLLOW. The creator
//    sets the mode exactly (fchmod, not masked by the umask), allocates, writes the region, and
//    publishes it with linkat (a temporary name: a rename that never replaces, renameat2's
//    RENAME_NOREPLACE or macOS's renamex_np RENAME_EXCL; where the file system has neither, link
//    then unlink of the temporary name), which fails with EEXIST when the name exists: nothing is
//    ever replaced, and a name never shows a region half made. macOS shared memory can be neither
//    unnamed nor linked: there the creator makes the name exclusively (O_CREAT | O_EXCL) and
//    initialises it in place (builds_unnamed() is false).
// 3. fstat the descriptor (not the name, so nothing can be swapped in between): a regular file
//    with one link, owned by this process's effective uid unless the caller allows another
//    owner, and not writable by others unless the caller's mode is. Anything else is refused
//    before a byte is read or written. Two exceptions, both races with our own processes: no
//    link at all (the name was unlinked between our open and our fstat: open again), and a
//    second link that is a creator's temporary name for this same file (it linked, and has not
//    yet removed the temporary name, or died first: finish_publication removes it).
//
// Storage is allocated (posix_fallocate) before the page is mapped, by creators and attachers,
// so a full file system is ENOSPC, never a SIGBUS on a later store. Where glibc emulates
// posix_fallocate (file systems without fallocate) it writes a zero byte into each block whose
// last byte reads as zero; a region's last byte is never written (shared_region.hpp asserts it),
// so the emulation cannot overwrite a live value.
//
// macOS: a POSIX shared-memory name is at most 31 characters with its '/', so a longer name is
// mapped to its first 12 characters, a '.', and 16 hex digits of its FNV-1a hash (the same in
// every process); such an object can be sized once, reports its size rounded up to the page,
// and cannot be flock'ed (try_lock() says so, and the protocol falls back to the exclusive
// creator). Files behave as on Linux, but for the temporary name in step 2.
#ifndef ATOMIC_COUNTER_DETAIL_REGION_FILE_POSIX_HPP
#define ATOMIC_COUNTER_DETAIL_REGION_FILE_POSIX_HPP

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#endif
#if defined(__APPLE__)
#include <dirent.h>
#include <stdio.h>  // renamex_np
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "error.hpp"

namespace atomic_counter::detail {

namespace os {

inline std::uint32_t current_pid() noexcept {
    return static_cast<std::uint32_t>(getpid());
}

// Whether a process with this pid exists (EPERM: it exists, but is another user's).
inline bool process_alive(std::uint32_t pid) noexcept {
    return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// "1001 (alice)", or just the number when the user database does not know it.
inline std::string describe_user(std::uint32_t uid) {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    std::string text = std::to_string(uid);
    if (getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found) == 0 &&
        found != nullptr) {
        text += std::string(" (") + found->pw_name + ")";
    }
    return text;
}

// The absolute form of a path, made from the working directory now (not resolved: a symlinked
// directory stays as named), so that a pickle made here names the same file after a chdir.
inline std::string absolute_path(std::string const& path) {
    if (!path.empty() && path[0] == '/') {
        return path;
    }
    std::vector<char> cwd(4096);
    while (getcwd(cwd.data(), cwd.size()) == nullptr) {
        if (errno != ERANGE) {
            on_error_system(errno, "getcwd failed");
        }
        cwd.resize(cwd.size() * 2);
    }
    std::string dir(cwd.data());
    return dir + (dir.size() > 1 ? "/" : "") + path;
}

inline std::string parent_directory(std::string const& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// Fills out with unpredictable bytes (the kernel's generator); falls back to the clock, the
// pid and the stack address mixed by splitmix64, which still differ between any two regions.
inline void random_bytes(void* out, std::size_t size) {
    auto* bytes = static_cast<unsigned char*>(out);
    std::size_t got = 0;
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (got < size) {
            const ssize_t n = ::read(fd, bytes + got, size - got);
            if (n <= 0) {
                break;
            }
            got += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }
    std::uint64_t state =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<std::uint64_t>(getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(&state);
    for (; got < size; ++got) {
        state += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        bytes[got] = static_cast<unsigned char>(z ^ (z >> 31));
    }
}

#if defined(__linux__)
// The upper (writable) directory of the overlay file system mounted on device `device`, from
// /proc/self/mountinfo, or "" when this mount namespace does not show one.
inline std::string overlay_upper_directory(dev_t device) {
    std::ifstream mounts("/proc/self/mountinfo");
    const std::string id = std::to_string(major(device)) + ":" + std::to_string(minor(device));
    std::string line;
    while (std::getline(mounts, line)) {
        // "36 35 0:52 / /merged rw - overlay overlay rw,lowerdir=...,upperdir=...,workdir=..."
        std::size_t field = 0;
        std::size_t at = 0;
        while (field < 2 && at != std::string::npos) {
            at = line.find(' ', at);
            if (at != std::string::npos) {
                ++at;
                ++field;
            }
        }
        if (at == std::string::npos || line.compare(at, id.size() + 1, id + " ") != 0) {
            continue;
        }
        const std::size_t dash = line.find(" - overlay ");
        if (dash == std::string::npos) {
            continue;
        }
        const std::size_t options = line.find(' ', dash + 11);
        if (options == std::string::npos) {
            continue;
        }
        // Options are separated by ',', and the kernel escapes ',', ' ', '\' in a path as \ooo.
        std::string rest = line.substr(options + 1) + ",";
        for (std::size_t begin = 0, end = 0; (end = rest.find(',', begin)) != std::string::npos;
             begin = end + 1) {
            const std::string option = rest.substr(begin, end - begin);
            if (option.compare(0, 9, "upperdir=") != 0) {
                continue;
            }
            std::string path;
            for (std::size_t i = 9; i < option.size(); ++i) {
                if (option[i] == '\\' && i + 3 < option.size() && option[i + 1] >= '0' &&
                    option[i + 1] <= '3') {
                    path += static_cast<char>((option[i + 1] - '0') * 64 +
                                              (option[i + 2] - '0') * 8 + (option[i + 3] - '0'));
                    i += 3;
                } else {
                    path += option[i];
                }
            }
            return path;
        }
    }
    return {};
}
#endif

// Whether data written to files under `directory` can survive a machine crash: false for the
// RAM file systems (tmpfs, ramfs), and for an overlay whose upper layer is one of them, where
// durability would be a promise nobody keeps. An overlay whose upper layer this mount namespace
// cannot see (a container's root, whose layers live in the host's namespace) is taken at its
// word: a documented limit.
inline bool persists_across_crash(std::string const& directory, std::string* fs_name) {
#if defined(__linux__)
    constexpr unsigned long tmpfs_magic = 0x01021994;
    constexpr unsigned long ramfs_magic = 0x858458f6;
    constexpr unsigned long overlay_magic = 0x794c7630;
    std::string where = directory;
    std::string layers;
    for (int depth = 0; depth < 8; ++depth) {  // an overlay's upper layer may be an overlay
        struct statfs st{};
        struct stat dir{};
        if (statfs(where.c_str(), &st) != 0 || ::stat(where.c_str(), &dir) != 0) {
            return true;  // the open that follows reports the real problem (ENOENT, EACCES)
        }
        const auto type = static_cast<unsigned long>(st.f_type);
        if (type == tmpfs_magic || type == ramfs_magic) {
            *fs_name = layers + (type == tmpfs_magic ? "tmpfs" : "ramfs");
            return false;
        }
        if (type != overlay_magic) {
            return true;
        }
        where = overlay_upper_directory(dir.st_dev);
        if (where.empty()) {
            return true;
        }
        layers += "an overlay whose upper layer '" + where + "' is on ";
    }
#else
    (void)directory;
    (void)fs_name;
#endif
    return true;
}

// Flushes a directory's entries, so that a file just created in it survives a machine crash.
inline void sync_directory(std::string const& directory, std::string const& what) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        on_error_system(errno, what + ": cannot open its directory to sync it");
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
        on_error_system(err, what + ": fsync of its directory failed");
    }
}

// The running boot's identity, 128 bits, or all zero where the system cannot say: Linux's
// /proc/sys/kernel/random/boot_id, macOS's kern.bootsessionuuid (both a UUID drawn at boot).
// Read once per process.
inline void boot_id(std::uint64_t out[2]) {
    static const auto id = [] {
        struct pair {
            std::uint64_t high = 0, low = 0;
        } value;
        char text[64] = {};
#if defined(__linux__)
        if (std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
            if (std::fgets(text, sizeof text, f) == nullptr) {
                text[0] = '\0';
            }
            (void)std::fclose(f);  // read-only: nothing to lose
        }
#elif defined(__APPLE__)
        std::size_t size = sizeof text - 1;
        if (sysctlbyname("kern.bootsessionuuid", text, &size, nullptr, 0) != 0) {
            text[0] = '\0';
        }
#endif
        int digits = 0;
        for (char const* c = text; *c != '\0' && digits < 32; ++c) {
            const int d = *c >= '0' && *c <= '9'   ? *c - '0'
                          : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
                          : *c >= 'A' && *c <= 'F' ? *c - 'A' + 10
                                                   : -1;
            if (d >= 0) {
                std::uint64_t& half = digits < 16 ? value.high : value.low;
                half = (half << 4) | static_cast<std::uint64_t>(d);
                ++digits;
            }
        }
        return digits == 32 ? value : pair{};
    }();
    out[0] = id.high;
    out[1] = id.low;
}

#if defined(__linux__)
// statx(2) and renameat2(2) by number: the manylinux2014 build's headers (glibc 2.17, Linux 3.10)
// declare neither. 0 where the number is not known here (the callers then do without).
#if defined(SYS_statx)
inline constexpr long statx_syscall = SYS_statx;
#elif defined(__x86_64__) && !defined(__ILP32__)
inline constexpr long statx_syscall = 332;
#elif defined(__aarch64__)
inline constexpr long statx_syscall = 291;
#else
inline constexpr long statx_syscall = 0;
#endif
#if defined(SYS_renameat2)
inline constexpr long renameat2_syscall = SYS_renameat2;
#elif defined(__x86_64__) && !defined(__ILP32__)
inline constexpr long renameat2_syscall = 316;
#elif defined(__aarch64__)
inline constexpr long renameat2_syscall = 276;
#else
inline constexpr long renameat2_syscall = 0;
#endif
#endif

// When a file was made (ns since 1970, never 0), or 0 where the file system does not say
// (statx's btime: ext4, XFS, btrfs, f2fs on Linux 4.11 and later; st_birthtime on macOS). A
// file made again under a recycled inode number has another one.
inline std::uint64_t file_birth(int fd) {
#if defined(__linux__)
    if (statx_syscall == 0) {
        return 0;
    }
    // struct statx as the kernel lays it out: stx_mask at 0, stx_btime {s64 sec, u32 nsec} at 80.
    alignas(8) unsigned char buffer[256] = {};
    constexpr unsigned statx_btime = 0x800;
    if (::syscall(statx_syscall, fd, "", AT_EMPTY_PATH, statx_btime, buffer) != 0) {
        return 0;
    }
    std::uint32_t mask = 0;
    std::int64_t seconds = 0;
    std::uint32_t nanoseconds = 0;
    std::memcpy(&mask, buffer, sizeof mask);
    std::memcpy(&seconds, buffer + 80, sizeof seconds);
    std::memcpy(&nanoseconds, buffer + 88, sizeof nanoseconds);
    if ((mask & statx_btime) == 0) {
        return 0;
    }
    const std::uint64_t ns = static_cast<std::uint64_t>(seconds) * 1000000000u + nanoseconds;
    return ns != 0 ? ns : 1;
#elif defined(__APPLE__)
    struct stat st{};
    if (fstat(fd, &st) != 0) {
        return 0;
    }
    const std::uint64_t ns = static_cast<std::uint64_t>(st.st_birthtimespec.tv_sec) * 1000000000u +
                             static_cast<std::uint64_t>(st.st_birthtimespec.tv_nsec);
    return ns != 0 ? ns : 1;
#else
    (void)fd;
    return 0;
#endif
}

// The inode's generation (2^32 | the number FS_IOC_GETVERSION gives: ext2/3/4, XFS, btrfs draw
// a new one for every new inode), or 0 where the file system keeps none.
inline std::uint64_t file_generation(int fd) {
#if defined(__linux__)
    int generation = 0;
    // FS_IOC_GETVERSION, spelled out (<linux/fs.h> clashes with <sys/mount.h>); glibc takes the
    // request as unsigned long, musl as int.
#if defined(__GLIBC__)
    const unsigned long request = _IOR('v', 1, long);
#else
    const int request = static_cast<int>(_IOR('v', 1, long));
#endif
    if (::ioctl(fd, request, &generation) != 0) {
        return 0;
    }
    return (std::uint64_t{1} << 32) | static_cast<std::uint32_t>(generation);
#else
    (void)fd;
    return 0;
#endif
}

// Renames `from` to `to` unless `to` exists (EEXIST then): one step, so the file never has two
// names. -1 with errno EINVAL, ENOSYS or ENOTSUP where the system or the file system cannot
// (Linux before 3.15, NFS and many FUSE file systems; macOS before 10.12).
inline int rename_noreplace(std::string const& from, std::string const& to) {
#if defined(__linux__)
    if (renameat2_syscall == 0) {
        errno = ENOSYS;
        return -1;
    }
    constexpr unsigned rename_noreplace_flag = 1;  // RENAME_NOREPLACE
    return static_cast<int>(::syscall(renameat2_syscall, AT_FDCWD, from.c_str(), AT_FDCWD,
                                      to.c_str(), rename_noreplace_flag));
#elif defined(__APPLE__)
    return ::renamex_np(from.c_str(), to.c_str(), RENAME_EXCL);
#else
    (void)from;
    (void)to;
    errno = ENOSYS;
    return -1;
#endif
}

// The errors rename_noreplace gives where it cannot rename without replacing.
inline bool rename_unsupported(int err) noexcept {
#if ENOTSUP != EOPNOTSUPP
    if (err == ENOTSUP) {
        return true;
    }
#endif
    return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

// A write-back error's mark for the rest of the boot: a shared-memory object named by the
// region's id (RAM: gone at the next boot, like the page cache whose loss it stands for). Made
// by whoever sees a durable region's msync or fsync fail; while it exists, every durable open of
// that region lifts past `reserved`, as after a reboot (see shared_region::check_boot).
inline std::string write_error_mark_name(std::uint64_t const id[2]) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text = "atomic_counter.";
    for (int half = 0; half < 2; ++half) {
        for (int i = 15; i >= 0; --i) {
            text += digits[(id[half] >> (4 * i)) & 15];
        }
    }
    return text + ".eio";
}

inline std::string shm_object_name(std::string const& name);

// Best effort: a mark that cannot be made leaves the failed open's own refusal (it raises).
inline void mark_write_error(std::uint64_t const id[2]) noexcept {
    try {
        const std::string object = shm_object_name(write_error_mark_name(id));
        const int fd = shm_open(object.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::close(fd);
        }
    } catch (...) {
    }
}

// Removes the mark of a region whose sequence has ended (nothing draws from it any more).
inline void clear_write_error(std::uint64_t const id[2]) noexcept {
    try {
        shm_unlink(shm_object_name(write_error_mark_name(id)).c_str());
    } catch (...) {
    }
}

// Whether a write-back error was seen in this boot; true too when that cannot be told.
inline bool write_error_marked(std::uint64_t const id[2]) {
    const std::string object = shm_object_name(write_error_mark_name(id));
    const int fd = shm_open(object.c_str(), O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0) {
        ::close(fd);
        return true;
    }
    return errno != ENOENT;
}

// What the checks read off an open region, all from one fstat of its descriptor.
struct file_facts {
    std::uint64_t size;           // as the OS reports it
    std::uint64_t size_rounding;  // sizes are reported rounded up to this (1: exact)
    bool regular;
    std::uint64_t links;
    bool owned_by_me;          // owned by this process's effective user
    std::string owner;         // who owns it, for messages
    std::string me;            // this process's user, for messages
    bool writable_by_others;   // every user of the machine may write it
    std::uint32_t mode;        // permission bits, for messages
    std::uint64_t device;      // with inode, birth and generation: which file this is (a copy,
    std::uint64_t inode;       // or a file made again under a recycled inode number, is another)
    std::uint64_t birth;       // see file_birth (0: not known)
    std::uint64_t generation;  // see file_generation (0: not known)
};

enum class lock_result { locked, busy, unsupported };

// The shared-memory object's name for shm_open: "/name", or on macOS, where such names are at
// most 31 characters, a deterministic short form of a longer one.
inline std::string shm_object_name(std::string const& name) {
#if defined(__APPLE__)
    if (name.size() + 1 > 31) {
        std::uint64_t hash = 0xCBF29CE484222325ULL;
        for (unsigned char c : name) {
            hash = (hash ^ c) * 0x100000001B3ULL;
        }
        static constexpr char digits[] = "0123456789abcdef";
        std::string text = "/" + name.substr(0, 12) + ".";
        for (int i = 15; i >= 0; --i) {
            text += digits[(hash >> (4 * i)) & 15];
        }
        return text;
    }
#endif
    return "/" + name;
}

// An open mapping of a region's page. Move-only; unmaps on destruction.
class mapping {
public:
    mapping() = default;
    mapping(void* address, std::size_t size) noexcept : address_(address), size_(size) {}
    mapping(mapping&& other) noexcept : address_(other.address_), size_(other.size_) {
        other.address_ = nullptr;
    }
    mapping& operator=(mapping&& other) noexcept {
        std::swap(address_, other.address_);
        std::swap(size_, other.size_);
        return *this;
    }
    mapping(mapping const&) = delete;
    mapping& operator=(mapping const&) = delete;
    ~mapping() {
        if (address_ != nullptr) {
            munmap(address_, size_);
        }
    }

    void* address() const noexcept { return address_; }

    // Flushes the page to its file and waits for the write (MS_SYNC).
    void sync(std::string const& what) const {
        if (msync(address_, size_, MS_SYNC) != 0) {
            on_error_system(errno, what + ": msync failed");
        }
    }

private:
    void* address_ = nullptr;
    std::size_t size_ = 0;
};

// An open region file or shared-memory object. Not copyable; closes its descriptor.
class region_file {
public:
    // Opens `name` (a path when is_path, else a shared-memory name) when it exists. When it does
    // not and may_create, makes a new object for it (created()): unnamed, for publish() to name
    // once the region in it is complete, or (builds_unnamed() false: macOS shared memory) made
    // exclusively under the name, empty, for its creator to size and initialise in place.
    // Throws std::system_error: ENOENT when it does not exist and may not be created (or its
    // directory does not exist), ELOOP for a symlink, EACCES when it cannot be opened for
    // reading and writing.
    region_file(std::string const& name, bool is_path, bool may_create, std::uint32_t mode,
                std::size_t /*size*/, std::string const& what)
        : what_(what), name_(name), is_path_(is_path), mode_(static_cast<mode_t>(mode & 0777)) {
#if defined(__APPLE__)
        builds_unnamed_ = is_path;
#else
        builds_unnamed_ = true;
#endif
        const std::string object = is_path ? name : shm_object_name(name);
        const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC;
        // A name unlinked and re-created between our two opens is rare; a few rounds settle it.
        for (int attempt = 0; attempt < 100; ++attempt) {
            fd_ = is_path ? ::open(object.c_str(), flags) : shm_open(object.c_str(), flags, 0);
            if (fd_ >= 0) {
                published_ = true;
                return;
            }
            if (errno != ENOENT || !may_create) {
                fail_open(errno);
            }
            if (builds_unnamed_) {
                make_unnamed();
                return;
            }
            fd_ = shm_open(object.c_str(), flags | O_CREAT | O_EXCL, mode_);
            if (fd_ >= 0) {
                created_ = published_ = true;
                set_mode();
                return;
            }
            if (errno != EEXIST) {
                fail_open(errno);
            }
        }
        on_error_system(EAGAIN, what_ + ": the name kept appearing and disappearing; retry");
    }

    region_file(region_file const&) = delete;
    region_file& operator=(region_file const&) = delete;
    ~region_file() {
        if (!temporary_.empty()) {
            ::unlink(temporary_.c_str());  // a region never published leaves no litter
        }
        close_fd();
    }

    // Whether this object made the storage (rather than opening a region that had the name).
    bool created() const noexcept { return created_; }
    // Whether the storage has the region's name (attached, or made exclusively under it).
    bool published() const noexcept { return published_; }
    // Whether a new region of this storage is built unnamed and published whole, so that the
    // name never holds an empty or half-made region of ours.
    bool builds_unnamed() const noexcept { return builds_unnamed_; }

    file_facts facts() const {
        struct stat st{};
        if (fstat(fd_, &st) != 0) {
            on_error_system(errno, what_ + ": fstat failed");
        }
        const auto owner = static_cast<std::uint32_t>(st.st_uid);
        const auto me = static_cast<std::uint32_t>(geteuid());
        std::uint64_t rounding = 1;
#if defined(__APPLE__)
        if (!is_path_) {
            rounding = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
        }
#endif
        return {static_cast<std::uint64_t>(st.st_size),
                rounding,
#if defined(__APPLE__)
                S_ISREG(st.st_mode) || !is_path_,  // Darwin's shm objects are not S_IFREG
#else
                S_ISREG(st.st_mode),
#endif
#if defined(__APPLE__)
                is_path_ ? static_cast<std::uint64_t>(st.st_nlink) : 1,  // shm: no links (0)
#else
                static_cast<std::uint64_t>(st.st_nlink),
#endif
                owner == me,
                describe_user(owner),
                describe_user(me),
                (st.st_mode & 0002) != 0,
                static_cast<std::uint32_t>(st.st_mode & 0777),
                static_cast<std::uint64_t>(st.st_dev),
                static_cast<std::uint64_t>(st.st_ino),
                is_path_ ? file_birth(fd_) : 0,
                is_path_ ? file_generation(fd_) : 0};
    }

    // fsync: writes what the page cache holds of the file and reports a write-back error no
    // open file description has seen yet (Linux 4.16 and later report it to a new one too).
    // Returns 0 or the errno.
    int sync_file() noexcept {
        int rc = 0;
        do {
            rc = ::fsync(fd_);
        } while (rc != 0 && errno == EINTR);
        return rc == 0 ? 0 : errno;
    }

    // The region's lock: an advisory lock on the open file description, which the kernel drops
    // when its holder dies, so a held lock always means a live holder. unsupported where the
    // object cannot be locked (macOS shared memory).
    lock_result try_lock() {
        if (flock(fd_, LOCK_EX | LOCK_NB) == 0) {
            return lock_result::locked;
        }
        if (errno == EWOULDBLOCK || errno == EINTR) {
            return lock_result::busy;
        }
        if (errno == ENOTSUP || errno == EOPNOTSUPP || errno == EINVAL) {
            return lock_result::unsupported;
        }
        on_error_system(errno, what_ + ": flock failed");
    }
    void unlock() noexcept { flock(fd_, LOCK_UN); }

    // Gives the first `size` bytes storage of their own, so that no store into the mapped page
    // can fault for want of space: std::system_error (ENOSPC) when the file system is full.
    // Sizes a new, empty object to `size`; never changes the size of one that has it.
    void allocate(std::size_t size) {
#if defined(__APPLE__)
        if (!is_path_) {
            // Shared memory is sized once, by its creator, and lives in RAM (or swap).
            if (created_ && ftruncate(fd_, static_cast<off_t>(size)) != 0) {
                on_error_system(errno, what_ + ": could not size the new region");
            }
            return;
        }
        struct stat st{};
        if (fstat(fd_, &st) == 0 && st.st_size == 0 &&
            ftruncate(fd_, static_cast<off_t>(size)) != 0) {
            on_error_system(errno, what_ + ": could not size the new region");
        }
        // No posix_fallocate: write the page's last byte, which the region never uses (it is
        // zero in every region), so the file system must find a block for it now.
        const char zero = 0;
        if (::pwrite(fd_, &zero, 1, static_cast<off_t>(size - 1)) != 1) {
            fail_allocate(errno);
        }
#else
        int err = 0;
        do {
            err = posix_fallocate(fd_, 0, static_cast<off_t>(size));
        } while (err == EINTR);
        if (err != 0) {
            fail_allocate(err);
        }
#endif
    }

    mapping map(std::size_t size) {
        void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (address == MAP_FAILED) {
            on_error_system(errno, what_ + ": mmap failed");
        }
        return {address, size};
    }

    // Gives a new unnamed object the region's name, unless the name exists: false then (another
    // creator published first; this object is dropped with its descriptor).
    bool publish() {
        if (published_) {
            return true;
        }
        const std::string target = published_path();
        int rc = -1;
        if (temporary_.empty()) {
#if defined(__linux__)
            // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd needs /proc. Try both.
            rc = ::linkat(fd_, "", AT_FDCWD, target.c_str(), AT_EMPTY_PATH);
            if (rc != 0 && errno != EEXIST) {
                const std::string self = "/proc/self/fd/" + std::to_string(fd_);
                rc = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW);
            }
#endif
        } else {
            // A rename that never replaces: one step, the region never has two names. Where the
            // file system cannot (NFS, many FUSE file systems), a link, then the temporary name
            // removed: an opener that meets the region with both names finishes that (see
            // finish_publication), so a creator stopped or killed in between holds nobody up.
            rc = rename_noreplace(temporary_, target);
            if (rc == 0) {
                temporary_.clear();
            } else if (rename_unsupported(errno)) {
                rc = ::link(temporary_.c_str(), target.c_str());
                if (rc == 0 || errno == EEXIST) {
                    const int err = errno;
                    ::unlink(temporary_.c_str());
                    temporary_.clear();
                    errno = err;
                }
            }
        }
        if (rc == 0) {
            published_ = true;
            return true;
        }
        if (errno == EEXIST) {
            return false;
        }
        if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
            // vfat, exFAT and some network file systems: neither O_TMPFILE nor hard links, so no
            // way to publish a whole region without risking replacing a live one.
            on_error_system(errno, what_ + ": the file system links no files, which a region "
                                           "needs to get its name only once complete; use a "
                                           "directory on another file system");
        }
        on_error_system(errno, what_ + ": could not give the new region its name");
    }

    // A region published by link() where neither O_TMPFILE nor a no-replace rename exists has two
    // names between its creator's link and its removal of the temporary name, and keeps both if
    // the creator is killed in between. Looks beside the name for that temporary name
    // (`.<name>.<16 hex>.tmp`) naming this same file and removes it, completing the publication
    // (the region under the name is whole: it was linked only once complete). False when no such
    // name exists: the second link is something else, and the region stays refused.
    bool finish_publication() {
#if defined(__linux__) || defined(__APPLE__)
        const std::string target = published_path();
        const std::size_t slash = target.rfind('/');
        const std::string directory =
            slash == std::string::npos ? "." : target.substr(0, slash + 1);
        const std::string prefix = "." + target.substr(slash + 1) + ".";
        struct stat mine{};
        if (fstat(fd_, &mine) != 0) {
            return false;
        }
        DIR* dir = ::opendir(directory.c_str());
        if (dir == nullptr) {
            return false;
        }
        bool finished = false;
        // NOLINTNEXTLINE(concurrency-mt-unsafe): readdir on a DIR no other thread has
        while (dirent* entry = ::readdir(dir)) {
            const std::string name = entry->d_name;
            if (name.size() != prefix.size() + 20 || name.compare(0, prefix.size(), prefix) != 0 ||
                name.compare(name.size() - 4, 4, ".tmp") != 0 ||
                name.find_first_not_of("0123456789abcdef", prefix.size()) != name.size() - 4) {
                continue;
            }
            struct stat st{};
            if (::fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                st.st_dev == mine.st_dev && st.st_ino == mine.st_ino &&
                (::unlinkat(dirfd(dir), name.c_str(), 0) == 0 || errno == ENOENT)) {
                finished = true;
            }
        }
        ::closedir(dir);
        return finished;
#else
        return false;
#endif
    }

    // Removes the name if it still names this object (the caller holds the lock, which every
    // remover takes, so nothing of ours renames it in between); false when it names another
    // object or nothing.
    bool remove_name() {
#if !defined(__linux__)
        if (!is_path_) {
            // macOS shared memory is not in the file system: no identity to compare, and no lock.
            if (shm_unlink(shm_object_name(name_).c_str()) != 0) {
                if (errno == ENOENT) {
                    return false;
                }
                on_error_system(errno, what_ + ": unlink failed");
            }
            return true;
        }
#endif
        const std::string target = published_path();
        struct stat named{};
        struct stat mine{};
        if (::lstat(target.c_str(), &named) != 0 || fstat(fd_, &mine) != 0 ||
            named.st_dev != mine.st_dev || named.st_ino != mine.st_ino) {
            return false;
        }
        const int rc =
            is_path_ ? ::unlink(target.c_str()) : shm_unlink(shm_object_name(name_).c_str());
        if (rc != 0) {
            if (errno == ENOENT) {
                return false;
            }
            on_error_system(errno, what_ + ": unlink failed");
        }
        return true;
    }

private:
    // The name as a path: the file, or where the shared-memory object lives.
    std::string published_path() const {
#if defined(__linux__)
        return is_path_ ? name_ : "/dev/shm/" + name_;
#else
        return is_path_ ? name_ : shm_object_name(name_);
#endif
    }

    void make_unnamed() {
        const std::string target = published_path();
        const std::string directory = parent_directory(target);
#if defined(__linux__)
        fd_ = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode_);
        if (fd_ >= 0) {
            created_ = true;
            set_mode();
            return;
        }
        // Old kernels and some file systems (NFS, FUSE) have no O_TMPFILE.
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            fail_create(errno, directory);
        }
#endif
        for (int attempt = 0; attempt < 100; ++attempt) {
            std::uint64_t random = 0;
            random_bytes(&random, sizeof random);
            char suffix[24];
            (void)std::snprintf(suffix, sizeof suffix, ".%016llx.tmp",
                                static_cast<unsigned long long>(random));
            const std::size_t slash = target.rfind('/');
            const std::string temporary =
                target.substr(0, slash + 1) + "." + target.substr(slash + 1) + suffix;
            fd_ = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         mode_);
            if (fd_ >= 0) {
                temporary_ = temporary;
                created_ = true;
                set_mode();
                return;
            }
            if (errno != EEXIST) {
                fail_create(errno, directory);
            }
        }
        on_error_system(EEXIST, what_ + ": could not find a free temporary name");
    }

    void set_mode() {
        if (fchmod(fd_, mode_) != 0) {
            const int err = errno;
            close_fd();
            on_error_system(err, what_ + ": could not set the new region's mode");
        }
    }

    [[noreturn]] void fail_open(int err) const {
        on_error_system(err, what_ + (err == ELOOP    ? ": is a symbolic link; refused (a link "
                                                        "could point the region at any file)"
                                      : err == ENOENT ? ": no such region"
                                                      : ": cannot open for reading and writing"));
    }

    [[noreturn]] void fail_create(int err, std::string const& directory) const {
        on_error_system(err, what_ + (err == ENOENT
                                          ? ": no such directory '" + directory + "'"
                                          : ": cannot create the region in '" + directory + "'"));
    }

    [[noreturn]] void fail_allocate(int err) const {
        on_error_system(err,
                        what_ + (err == ENOSPC ? ": no space left to back the region's page (the "
                                                 "file system is full); nothing was mapped"
                                               : ": could not allocate the region's storage"));
    }

    void close_fd() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    std::string what_;
    std::string name_;
    bool is_path_;
    mode_t mode_;
    int fd_ = -1;
    bool created_ = false;
    bool published_ = false;
    bool builds_unnamed_ = true;
    std::string temporary_;  // the temporary name of a new region not yet published
};

// Whether a region's name can be removed while processes hold it (everywhere on POSIX).
inline bool names_outlive_holders(bool /*is_path*/) noexcept {
    return true;
}

// Whether a name is a file path rather than a shared-memory name.
inline bool names_file(std::string const& name) {
    return name.find('/') != std::string::npos;
}

}  // namespace os
}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_REGION_FILE_POSIX_HPP
