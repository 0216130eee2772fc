// atomic_counter/detail/region_file_windows.hpp: the Windows side of a shared region's storage,
// with the names and behaviour of region_file_posix.hpp. Chosen by detail/region_file.hpp.
//
// - A name without a path separator ('/' or '\') is a named section, `Local\atomic_counter.<name>`
//   in the session's namespace, sized at creation. Unlike a POSIX shared-memory object it lives
//   only while some process holds it open (every open counter holds a handle): when the last
//   counter on it closes, its value is gone (use a file path to keep it). unlink() has nothing
//   to remove.
// - A name with a separator is a file, opened without following a reparse point (a symlink or
//   junction under the name is refused), and refused with more than one hard link.
// - The creation lock is a named mutex (sections) or a byte-range lock (files); both are released
//   by Windows when their holder dies (an abandoned mutex counts as taken).
// - Owner: the region's owner SID must be this process's user (or its default owner, the
//   Administrators group for an elevated process) unless another owner is allowed. A region this
//   process creates with mode granting nothing to group or others gets a DACL for its user and
//   SYSTEM only; otherwise the default security of where it is created.
// - Durable: FlushViewOfFile, then FlushFileBuffers on the file. No boot id is read (Windows
//   keeps none a program can trust), so every durable open lifts the value past `reserved`, as
//   after a crash: a gap of at most one block per open.
// - A new file region is built under a temporary name beside its own (`.<name>.<16 hex>.tmp`,
//   CREATE_NEW), sized (SetEndOfFile allocates its clusters: a full disk is ERROR_DISK_FULL,
//   ENOSPC), written, then renamed into place without replacing anything (FileRenameInfo,
//   ReplaceIfExists false), so the name never holds an empty or half-made region. A section is
//   made whole, zero-filled and committed, by one call, and initialised in place under its
//   mutex (builds_unnamed() is false there).
// - unlink() of a file ends its sequence (as on POSIX), then removes the name if it still names
//   that file (volume and index compared under the lock). Windows refuses to delete a file a
//   process has mapped: then unlink() raises EBUSY, the sequence ended all the same, and the
//   first open after every holder has closed it removes it. A section has no name to remove
//   (it goes with its last holder), so no second region can appear beside a live one:
//   unlink() leaves it as it is.
#ifndef ATOMIC_COUNTER_DETAIL_REGION_FILE_WINDOWS_HPP
#define ATOMIC_COUNTER_DETAIL_REGION_FILE_WINDOWS_HPP

#include <windows.h>
// Must follow windows.h.
#include <aclapi.h>
#include <bcrypt.h>
#include <sddl.h>

// A header-only user links what these headers call without telling the build: MSVC and
// clang-cl read these (BCryptGenRandom; the security and token functions). CMake's target
// links them too, for every compiler.
#if defined(_MSC_VER)
#pragma comment(lib, "bcrypt")
#pragma comment(lib, "advapi32")
#endif

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"

namespace atomic_counter::detail::os {

inline std::wstring widen(std::string const& text) {
    if (text.empty()) {
        return {};
    }
    const int n =
        MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
    std::wstring wide(static_cast<std::size_t>(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), wide.data(), n);
    return wide;
}

inline std::string narrow(std::wstring const& wide) {
    if (wide.empty()) {
        return {};
    }
    const int n = WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                                      nullptr, 0, nullptr, nullptr);
    std::string text(static_cast<std::size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), text.data(), n,
                        nullptr, nullptr);
    return text;
}

// The errno value closest to a Windows error, so callers see the same errors everywhere.
inline int errno_of(DWORD error) noexcept {
    switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
        return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
        return EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return EBUSY;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return ENOMEM;
    case ERROR_DISK_FULL:
        return ENOSPC;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
        return EINVAL;
    default:
        return EIO;
    }
}

[[noreturn]] inline void fail(std::string const& what) {
    const DWORD error = GetLastError();
    on_error_system(errno_of(error), what + " (Windows error " + std::to_string(error) + ")");
}

inline std::uint32_t current_pid() noexcept {
    return static_cast<std::uint32_t>(GetCurrentProcessId());
}

inline bool process_alive(std::uint32_t pid) noexcept {
    HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
    if (process == nullptr) {
        return GetLastError() == ERROR_ACCESS_DENIED;  // exists, but not ours to open
    }
    const bool alive = WaitForSingleObject(process, 0) == WAIT_TIMEOUT;
    CloseHandle(process);
    return alive;
}

inline bool names_file(std::string const& name) {
    return name.find_first_of("/\\") != std::string::npos;
}

inline std::string absolute_path(std::string const& path) {
    const std::wstring wide = widen(path);
    const DWORD n = GetFullPathNameW(wide.c_str(), 0, nullptr, nullptr);
    if (n == 0) {
        fail("cannot make '" + path + "' absolute");
    }
    std::wstring full(n, L'\0');
    const DWORD written = GetFullPathNameW(wide.c_str(), n, full.data(), nullptr);
    full.resize(written);
    return narrow(full);
}

inline std::string parent_directory(std::string const& path) {
    const std::size_t slash = path.find_last_of("/\\");
    return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

inline void random_bytes(void* out, std::size_t size) {
    auto* bytes = static_cast<unsigned char*>(out);
    if (BCryptGenRandom(nullptr, bytes, static_cast<ULONG>(size),
                        BCRYPT_USE_SYSTEM_PREFERRED_RNG) >= 0) {
        return;
    }
    std::uint64_t state =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<std::uint64_t>(GetCurrentProcessId()) << 32) ^
        reinterpret_cast<std::uintptr_t>(&state);
    for (std::size_t i = 0; i < size; ++i) {
        state += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        bytes[i] = static_cast<unsigned char>(z ^ (z >> 31));
    }
}

// Windows has no RAM file system in the sense of tmpfs; a RAM disk driver is not detected.
inline bool persists_across_crash(std::string const& /*directory*/, std::string* /*fs_name*/) {
    return true;
}

// NTFS journals a new file's directory entry with its metadata, which FlushFileBuffers on the
// file itself (every durable msync) forces out; there is nothing more to do for the directory.
inline void sync_directory(std::string const& /*directory*/, std::string const& /*what*/) {}

// Unknown (all zero): see the top of this file.
inline void boot_id(std::uint64_t out[2]) noexcept {
    out[0] = 0;
    out[1] = 0;
}

// With no boot id, every durable open lifts past `reserved` already: a write-back error needs
// no mark of its own here.
inline void mark_write_error(std::uint64_t const* /*id*/) noexcept {}
inline void clear_write_error(std::uint64_t const* /*id*/) noexcept {}
inline bool write_error_marked(std::uint64_t const* /*id*/) noexcept {
    return false;
}

// A file's name can be removed (or at least the sequence under it ended); a section's name goes
// with its last holder, and unlink() leaves it alone.
inline bool names_outlive_holders(bool is_path) noexcept {
    return is_path;
}

struct file_facts {
    std::uint64_t size;
    std::uint64_t size_rounding;
    bool regular;
    std::uint64_t links;
    bool owned_by_me;
    std::string owner;
    std::string me;
    bool writable_by_others;  // not examined on Windows: the DACL decides, and ours are tight
    std::uint32_t mode;
    std::uint64_t device;  // the volume's serial number and the file's index (files only;
    std::uint64_t inode;   // NTFS's index carries a sequence number: a file made again under
    std::uint64_t birth;   // a reused index has another one); birth and generation: 0, unknown
    std::uint64_t generation;
};

enum class lock_result { locked, busy, unsupported };

// The SIDs of this process's user and of its default owner for new objects.
class token_identity {
public:
    token_identity() {
        HANDLE token = nullptr;
        if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
            fail("cannot read this process's token");
        }
        user_ = query(token, TokenUser);
        owner_ = query(token, TokenOwner);
        CloseHandle(token);
    }
    PSID user() const noexcept {
        return reinterpret_cast<TOKEN_USER const*>(user_.data())->User.Sid;
    }
    PSID owner() const noexcept {
        return reinterpret_cast<TOKEN_OWNER const*>(owner_.data())->Owner;
    }

private:
    static std::vector<unsigned char> query(HANDLE token, TOKEN_INFORMATION_CLASS what) {
        DWORD size = 0;
        GetTokenInformation(token, what, nullptr, 0, &size);
        std::vector<unsigned char> buffer(size);
        if (!GetTokenInformation(token, what, buffer.data(), size, &size)) {
            fail("cannot read this process's token");
        }
        return buffer;
    }
    std::vector<unsigned char> user_;
    std::vector<unsigned char> owner_;
};

inline std::string describe_sid(PSID sid) {
    LPWSTR text = nullptr;
    if (sid == nullptr || !ConvertSidToStringSidW(sid, &text)) {
        return "(unknown)";
    }
    std::string result = narrow(text);
    LocalFree(text);
    return result;
}

// Owner-only security for a region this process creates (nullptr: the default).
class creation_security {
public:
    creation_security(std::uint32_t mode, token_identity const& me) {
        if ((mode & 077u) != 0) {
            return;
        }
        LPWSTR sid = nullptr;
        if (!ConvertSidToStringSidW(me.user(), &sid)) {
            fail("cannot describe this process's user");
        }
        const std::wstring sddl = L"D:P(A;;GA;;;" + std::wstring(sid) + L")(A;;GA;;;SY)";
        LocalFree(sid);
        if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1,
                                                                  &descriptor_, nullptr)) {
            fail("cannot build the region's security descriptor");
        }
        attributes_.nLength = sizeof attributes_;
        attributes_.lpSecurityDescriptor = descriptor_;
        attributes_.bInheritHandle = FALSE;
    }
    creation_security(creation_security const&) = delete;
    creation_security& operator=(creation_security const&) = delete;
    ~creation_security() {
        if (descriptor_ != nullptr) {
            LocalFree(descriptor_);
        }
    }
    SECURITY_ATTRIBUTES* get() noexcept { return descriptor_ != nullptr ? &attributes_ : nullptr; }

private:
    PSECURITY_DESCRIPTOR descriptor_ = nullptr;
    SECURITY_ATTRIBUTES attributes_{};
};

// An open mapping of a region's page. Move-only; unmaps on destruction.
class mapping {
public:
    mapping() = default;
    // Owns `keep`: the file (flushed by sync) or the named section (held open, so that its name
    // lives as long as this mapping does).
    mapping(void* address, std::size_t size, HANDLE keep, bool is_file) noexcept
        : address_(address), size_(size), keep_(keep), is_file_(is_file) {}
    mapping(mapping&& other) noexcept
        : address_(std::exchange(other.address_, nullptr)), size_(other.size_),
          keep_(std::exchange(other.keep_, nullptr)), is_file_(other.is_file_) {}
    mapping& operator=(mapping&& other) noexcept {
        std::swap(address_, other.address_);
        std::swap(size_, other.size_);
        std::swap(keep_, other.keep_);
        std::swap(is_file_, other.is_file_);
        return *this;
    }
    mapping(mapping const&) = delete;
    mapping& operator=(mapping const&) = delete;
    ~mapping() {
        if (address_ != nullptr) {
            UnmapViewOfFile(address_);
        }
        if (keep_ != nullptr) {
            CloseHandle(keep_);
        }
    }

    void* address() const noexcept { return address_; }

    // Writes the page to its file and waits for the disk (a section has no file to flush).
    void sync(std::string const& what) const {
        if (!FlushViewOfFile(address_, size_)) {
            fail(what + ": FlushViewOfFile failed");
        }
        if (is_file_ && !FlushFileBuffers(keep_)) {
            fail(what + ": FlushFileBuffers failed");
        }
    }

private:
    void* address_ = nullptr;
    std::size_t size_ = 0;
    HANDLE keep_ = nullptr;  // a duplicate handle the mapping owns
    bool is_file_ = false;
};

inline std::wstring section_name(std::string const& name) {
    return L"Local\\atomic_counter." + widen(name);
}

class region_file {
public:
    region_file(std::string const& name, bool is_path, bool may_create, std::uint32_t mode,
                std::size_t size, std::string const& what)
        : what_(what), name_(name), is_path_(is_path), size_(size) {
        creation_security security(mode, me_);
        if (is_path) {
            open_file(name, may_create, security.get());
        } else {
            open_section(name, may_create, security.get());
        }
    }

    region_file(region_file const&) = delete;
    region_file& operator=(region_file const&) = delete;
    ~region_file() {
        if (!temporary_.empty()) {
            DeleteFileW(temporary_.c_str());  // never published: no litter (deleted on close)
        }
        for (HANDLE h : {file_, section_, mutex_}) {
            if (h != nullptr && h != INVALID_HANDLE_VALUE) {
                CloseHandle(h);
            }
        }
    }

    bool created() const noexcept { return created_; }
    // Whether the storage has the region's name: an opened file or any section, not a new file
    // before publish().
    bool published() const noexcept { return temporary_.empty(); }
    bool builds_unnamed() const noexcept { return is_path_; }

    file_facts facts() const {
        std::uint64_t bytes = size_;
        std::uint64_t links = 1;
        std::uint64_t device = 0;
        std::uint64_t index = 0;
        if (is_path_) {
            BY_HANDLE_FILE_INFORMATION info{};
            if (!GetFileInformationByHandle(file_, &info)) {
                fail(what_ + ": cannot read the file's information");
            }
            bytes = (static_cast<std::uint64_t>(info.nFileSizeHigh) << 32) | info.nFileSizeLow;
            links = info.nNumberOfLinks;
            device = info.dwVolumeSerialNumber;
            index = (static_cast<std::uint64_t>(info.nFileIndexHigh) << 32) | info.nFileIndexLow;
        }
        PSID owner = nullptr;
        PSECURITY_DESCRIPTOR descriptor = nullptr;
        const DWORD rc = GetSecurityInfo(
            is_path_ ? file_ : section_, is_path_ ? SE_FILE_OBJECT : SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION, &owner, nullptr, nullptr, nullptr, &descriptor);
        if (rc != ERROR_SUCCESS) {
            SetLastError(rc);
            fail(what_ + ": cannot read its owner");
        }
        const bool mine = EqualSid(owner, me_.user()) || EqualSid(owner, me_.owner());
        file_facts facts{
            bytes, 1,      true,  links, mine, describe_sid(owner), describe_sid(me_.user()), false,
            0,     device, index, 0,     0};
        LocalFree(descriptor);
        return facts;
    }

    lock_result try_lock() {
        if (!is_path_) {
            const DWORD rc = WaitForSingleObject(mutex_, 0);
            if (rc == WAIT_OBJECT_0 || rc == WAIT_ABANDONED) {
                return lock_result::locked;  // abandoned: its holder died
            }
            if (rc == WAIT_TIMEOUT) {
                return lock_result::busy;
            }
            fail(what_ + ": cannot take the creation lock");
        }
        OVERLAPPED at{};
        at.Offset = 0xFFFFFFF0u;  // a byte far past the page: never read or written
        if (LockFileEx(file_, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at)) {
            return lock_result::locked;
        }
        if (GetLastError() == ERROR_LOCK_VIOLATION || GetLastError() == ERROR_IO_PENDING) {
            return lock_result::busy;
        }
        fail(what_ + ": cannot take the creation lock");
    }

    void unlock() noexcept {
        if (!is_path_) {
            ReleaseMutex(mutex_);
            return;
        }
        OVERLAPPED at{};
        at.Offset = 0xFFFFFFF0u;
        UnlockFileEx(file_, 0, 1, 0, &at);
    }

    // Sizes a new, empty file: NTFS allocates its clusters at once (ERROR_DISK_FULL: ENOSPC). A
    // section has its size, committed, from its creation; a file that has it is left alone.
    void allocate(std::size_t size) {
        if (!is_path_) {
            return;
        }
        LARGE_INTEGER current{};
        if (GetFileSizeEx(file_, &current) && current.QuadPart >= static_cast<LONGLONG>(size)) {
            return;
        }
        LARGE_INTEGER end{};
        end.QuadPart = static_cast<LONGLONG>(size);
        if (!SetFilePointerEx(file_, end, nullptr, FILE_BEGIN) || !SetEndOfFile(file_)) {
            fail(what_ + ": could not size the new region");
        }
    }

    // FlushFileBuffers on a file (a section has no file): 0, or the errno of its failure.
    int sync_file() noexcept {
        if (!is_path_ || FlushFileBuffers(file_)) {
            return 0;
        }
        return errno_of(GetLastError());
    }

    // A new file is renamed into place in one step: it never has two names to finish.
    bool finish_publication() noexcept { return false; }

    // Renames a new file into place unless the name exists: false then (another creator
    // published first; the temporary file is deleted with this object).
    bool publish() {
        if (temporary_.empty()) {
            return true;
        }
        const std::wstring target = widen(name_);
        const std::size_t bytes = target.size() * sizeof(wchar_t);
        std::vector<unsigned char> buffer(sizeof(FILE_RENAME_INFO) + bytes);
        auto* info = reinterpret_cast<FILE_RENAME_INFO*>(buffer.data());
        info->ReplaceIfExists = FALSE;
        info->RootDirectory = nullptr;
        info->FileNameLength = static_cast<DWORD>(bytes);
        std::memcpy(info->FileName, target.data(), bytes);
        if (SetFileInformationByHandle(file_, FileRenameInfo, info,
                                       static_cast<DWORD>(buffer.size()))) {
            temporary_.clear();
            return true;
        }
        const DWORD error = GetLastError();
        if (error == ERROR_ALREADY_EXISTS || error == ERROR_FILE_EXISTS) {
            return false;
        }
        fail(what_ + ": could not give the new region its name");
    }

    // Removes a file's name if it still names this file (the caller holds the lock, which every
    // remover takes): false when it names another file or none. EBUSY while a process has it
    // mapped, which Windows does not let go.
    bool remove_name() {
        if (!is_path_) {
            return false;
        }
        const std::wstring path = widen(name_);
        HANDLE other = CreateFileW(path.c_str(), FILE_READ_ATTRIBUTES,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                   OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
        if (other == INVALID_HANDLE_VALUE) {
            if (GetLastError() == ERROR_FILE_NOT_FOUND) {
                return false;
            }
            fail(what_ + ": unlink failed");
        }
        BY_HANDLE_FILE_INFORMATION mine{};
        BY_HANDLE_FILE_INFORMATION named{};
        const bool same = GetFileInformationByHandle(file_, &mine) &&
                          GetFileInformationByHandle(other, &named) &&
                          mine.dwVolumeSerialNumber == named.dwVolumeSerialNumber &&
                          mine.nFileIndexHigh == named.nFileIndexHigh &&
                          mine.nFileIndexLow == named.nFileIndexLow;
        CloseHandle(other);
        if (!same) {
            return false;
        }
        if (!DeleteFileW(path.c_str())) {
            const DWORD error = GetLastError();
            if (error == ERROR_FILE_NOT_FOUND) {
                return false;
            }
            if (error == ERROR_ACCESS_DENIED || error == ERROR_SHARING_VIOLATION ||
                error == ERROR_USER_MAPPED_FILE) {
                on_error_system(EBUSY, what_ +
                                           ": its sequence has ended, but a process still has it "
                                           "mapped and Windows removes no mapped file; the first "
                                           "open after every process has closed it removes it "
                                           "(Windows error " +
                                           std::to_string(error) + ")");
            }
            fail(what_ + ": unlink failed");
        }
        return true;
    }

    mapping map(std::size_t size) {
        HANDLE section = section_;
        if (is_path_) {
            section = CreateFileMappingW(file_, nullptr, PAGE_READWRITE, 0,
                                         static_cast<DWORD>(size), nullptr);
            if (section == nullptr) {
                fail(what_ + ": cannot map the file");
            }
        }
        void* address = MapViewOfFile(section, FILE_MAP_ALL_ACCESS, 0, 0, size);
        if (is_path_) {
            CloseHandle(section);  // the view keeps the mapping alive
        }
        if (address == nullptr) {
            fail(what_ + ": MapViewOfFile failed");
        }
        HANDLE keep = nullptr;
        if (!DuplicateHandle(GetCurrentProcess(), is_path_ ? file_ : section_, GetCurrentProcess(),
                             &keep, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
            UnmapViewOfFile(address);
            fail(what_ + ": cannot keep the region open");
        }
        return {address, size, keep, is_path_};
    }

private:
    void open_file(std::string const& name, bool may_create, SECURITY_ATTRIBUTES* security) {
        const std::wstring path = widen(name);
        const DWORD access = GENERIC_READ | GENERIC_WRITE;
        const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
        const DWORD flags = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT;
        for (int attempt = 0; attempt < 100; ++attempt) {
            file_ =
                CreateFileW(path.c_str(), access, share, nullptr, OPEN_EXISTING, flags, nullptr);
            if (file_ != INVALID_HANDLE_VALUE) {
                BY_HANDLE_FILE_INFORMATION info{};
                if (GetFileInformationByHandle(file_, &info) &&
                    (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0) {
                    on_error_system(ELOOP, what_ + ": is a symbolic link or junction; refused (a "
                                                   "link could point the region at any file)");
                }
                return;
            }
            const DWORD error = GetLastError();
            if (error != ERROR_FILE_NOT_FOUND || !may_create) {
                fail(what_ + (error == ERROR_FILE_NOT_FOUND
                                  ? ": no such region"
                                  : ": cannot open for reading and writing"));
            }
            // A temporary name beside the region's: renamed into place once the region is whole.
            std::uint64_t random = 0;
            random_bytes(&random, sizeof random);
            static constexpr wchar_t digits[] = L"0123456789abcdef";
            std::wstring suffix = L".";
            for (int i = 15; i >= 0; --i) {
                suffix += digits[(random >> (4 * i)) & 15];
            }
            const std::size_t slash = path.find_last_of(L"/\\");
            const std::wstring temporary =
                path.substr(0, slash + 1) + L"." + path.substr(slash + 1) + suffix + L".tmp";
            file_ = CreateFileW(temporary.c_str(), access | DELETE, share, security, CREATE_NEW,
                                flags, nullptr);
            if (file_ != INVALID_HANDLE_VALUE) {
                temporary_ = temporary;
                created_ = true;
                return;
            }
            if (GetLastError() != ERROR_FILE_EXISTS) {
                fail(what_ + ": cannot create the region's file");
            }
        }
        on_error_system(EAGAIN, what_ + ": the name kept appearing and disappearing; retry");
    }

    void open_section(std::string const& name, bool may_create, SECURITY_ATTRIBUTES* security) {
        const std::wstring object = section_name(name);
        if (may_create) {
            section_ = CreateFileMappingW(INVALID_HANDLE_VALUE, security, PAGE_READWRITE, 0,
                                          static_cast<DWORD>(size_), object.c_str());
            if (section_ == nullptr) {
                fail(what_ + ": cannot create or open the shared memory");
            }
            created_ = GetLastError() != ERROR_ALREADY_EXISTS;
        } else {
            section_ = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, object.c_str());
            if (section_ == nullptr) {
                fail(what_ + ": no such region");
            }
        }
        mutex_ = CreateMutexW(security, FALSE, (object + L".lock").c_str());
        if (mutex_ == nullptr) {
            fail(what_ + ": cannot create or open its creation lock");
        }
    }

    std::string what_;
    std::string name_;
    std::wstring temporary_;  // a new file's temporary name, until publish()
    bool is_path_;
    std::size_t size_;
    token_identity me_;
    HANDLE file_ = INVALID_HANDLE_VALUE;
    HANDLE section_ = nullptr;
    HANDLE mutex_ = nullptr;
    bool created_ = false;
};

}  // namespace atomic_counter::detail::os

#endif  // ATOMIC_COUNTER_DETAIL_REGION_FILE_WINDOWS_HPP
