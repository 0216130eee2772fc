// atomic_counter/detail/region_file_posix.hpp: the POSIX side of a shared region's storage: a
// POSIX shared-memory object (a name without '/') or a file (a path), opened so that another
// local user cannot redirect or plant it, an advisory lock for the creation protocol, and the
// mapping. Chosen by detail/region_file.hpp; shared_region.hpp never sees the OS.
//
// Opening, in every process:
// 1. create: open(O_CREAT | O_EXCL | O_NOFOLLOW). Exclusive creation never follows a symlink
//    and never adopts a file someone else made; the creator sets the mode exactly (fchmod, not
//    masked by the umask), so "0600 unless asked" holds whatever the umask is.
// 2. EEXIST: attach with open(O_NOFOLLOW), no O_CREAT (a symlink planted under the name is
//    ELOOP); ENOENT there means the name was unlinked in between, so try again from 1.
// 3. fstat the descriptor (not the name, so nothing can be swapped in between): a regular file
//    with one link, owned by this process's effective uid unless the caller allows another
//    owner, and not writable by others unless the caller's mode is. Anything else is refused
//    before a byte is read or written.
//
// macOS: a POSIX shared-memory name is at most 31 characters with its '/', so a longer name is
// mapped to its first 12 characters, a '.', and 16 hex digits of its FNV-1a hash (the same in
// every process); such an object can be sized once, reports its size rounded up to the page,
// and cannot be flock'ed (try_lock() says so, and the protocol falls back to the exclusive
// creator). Files behave as on Linux.
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
#include <sys/vfs.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
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

// Whether data written to files under `directory` can survive a machine crash: false for the
// RAM file systems (tmpfs, ramfs), where durability would be a promise nobody keeps.
inline bool persists_across_crash(std::string const& directory, std::string* fs_name) {
#if defined(__linux__)
    struct statfs st{};
    if (statfs(directory.c_str(), &st) != 0) {
        return true;  // the open that follows reports the real problem (ENOENT, EACCES)
    }
    constexpr unsigned long tmpfs_magic = 0x01021994;
    constexpr unsigned long ramfs_magic = 0x858458f6;
    const auto type = static_cast<unsigned long>(st.f_type);
    if (type == tmpfs_magic || type == ramfs_magic) {
        *fs_name = type == tmpfs_magic ? "tmpfs" : "ramfs";
        return false;
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

// What the checks read off an open region, all from one fstat of its descriptor.
struct file_facts {
    std::uint64_t size;           // as the OS reports it
    std::uint64_t size_rounding;  // sizes are reported rounded up to this (1: exact)
    bool regular;
    std::uint64_t links;
    bool owned_by_me;         // owned by this process's effective user
    std::string owner;        // who owns it, for messages
    std::string me;           // this process's user, for messages
    bool writable_by_others;  // every user of the machine may write it
    std::uint32_t mode;       // permission bits, for messages
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

// An open region file or shared-memory object. Move-only; closes its descriptor.
class region_file {
public:
    // Opens `name` (a path when is_path, else a shared-memory name), creating it exclusively
    // when may_create and it does not exist; a created one gets exactly `mode`, and is empty
    // (resize() sizes it; `size` is for systems that size a new object at once). Throws
    // std::system_error: ENOENT when it does not exist and may not be created, ELOOP for a
    // symlink, EACCES when it cannot be opened for reading and writing.
    region_file(std::string const& name, bool is_path, bool may_create, std::uint32_t mode,
                std::size_t /*size*/, std::string const& what)
        : what_(what) {
        const std::string object = is_path ? name : shm_object_name(name);
        is_path_ = is_path;
        const auto open_object = [&](int flags, mode_t m) {
            return is_path ? ::open(object.c_str(), flags, m) : shm_open(object.c_str(), flags, m);
        };
        const int base = O_RDWR | O_NOFOLLOW | O_CLOEXEC;
        // A name unlinked and re-created between our two opens is rare; a few rounds settle it.
        for (int attempt = 0; attempt < 100; ++attempt) {
            if (may_create) {
                fd_ = open_object(base | O_CREAT | O_EXCL, static_cast<mode_t>(mode & 0777));
                if (fd_ >= 0) {
                    created_ = true;
                    if (fchmod(fd_, static_cast<mode_t>(mode & 0777)) != 0) {
                        const int err = errno;
                        close_fd();
                        on_error_system(err, what_ + ": could not set the new region's mode");
                    }
                    return;
                }
                if (errno != EEXIST) {
                    fail_open(errno);
                }
            }
            fd_ = open_object(base, 0);
            if (fd_ >= 0) {
                return;
            }
            if (errno != ENOENT || !may_create) {
                fail_open(errno);
            }
        }
        on_error_system(EAGAIN, what_ + ": the name kept appearing and disappearing; retry");
    }

    region_file(region_file const&) = delete;
    region_file& operator=(region_file const&) = delete;
    ~region_file() { close_fd(); }

    bool created() const noexcept { return created_; }

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
                static_cast<std::uint64_t>(st.st_nlink),
                owner == me,
                describe_user(owner),
                describe_user(me),
                (st.st_mode & 0002) != 0,
                static_cast<std::uint32_t>(st.st_mode & 0777)};
    }

    // The creation lock: an advisory lock on the open file description, which the kernel drops
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

    void resize(std::size_t size) {
        if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
            on_error_system(errno, what_ + ": could not size the new region");
        }
    }

    mapping map(std::size_t size) {
        void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (address == MAP_FAILED) {
            on_error_system(errno, what_ + ": mmap failed");
        }
        return {address, size};
    }

private:
    [[noreturn]] void fail_open(int err) const {
        on_error_system(err, what_ + (err == ELOOP    ? ": is a symbolic link; refused (a link "
                                                        "could point the region at any file)"
                                      : err == ENOENT ? ": no such region"
                                                      : ": cannot open for reading and writing"));
    }

    void close_fd() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    std::string what_;
    int fd_ = -1;
    bool created_ = false;
    bool is_path_ = false;
};

// Whether a name is a file path rather than a shared-memory name.
inline bool names_file(std::string const& name) {
    return name.find('/') != std::string::npos;
}

inline void unlink(std::string const& name, bool is_path, std::string const& what) {
    const int rc = is_path ? ::unlink(name.c_str()) : shm_unlink(shm_object_name(name).c_str());
    if (rc != 0) {
        on_error_system(errno, what + ": unlink failed");
    }
}

}  // namespace os
}  // namespace atomic_counter::detail

#endif  // ATOMIC_COUNTER_DETAIL_REGION_FILE_POSIX_HPP
