// detail/shared_region.hpp and detail/region_file_posix.hpp: what another local user, a dead or
// stuck creator, a damaged header and a replaced name can and cannot do to a shared counter.
#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>
#include <atomic_counter/time_counter.hpp>

#include <gtest/gtest.h>
#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

#include "shared_test_util.hpp"

namespace ac = atomic_counter;

using SharedRegion = SharedTest;

namespace {

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (std::exception const& e) {
        return e.what();
    }
    return "(no exception)";
}

int errno_of(std::function<void()> const& f) {
    try {
        f();
    } catch (std::system_error const& e) {
        return e.code().value();
    }
    return 0;
}

#if !defined(_WIN32)
std::uint32_t mode_of(std::string const& file) {
    struct stat st{};
    EXPECT_EQ(stat(file.c_str(), &st), 0);
    return st.st_mode & 0777;
}
#endif

// Writes a 64-bit field of a region file in place.
void poke(std::string const& file, std::size_t offset, std::uint64_t value) {
    std::string bytes = SharedTest::read_file(file);
    std::memcpy(&bytes[offset], &value, sizeof value);
    SharedTest::write_file(file, bytes);
}

}  // namespace

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, NewRegionsAreTheOwnersAloneWhateverTheUmask) {
    const mode_t old = umask(0);
    const std::string file = path("private");
    {
        ac::shared_counter c(file, 0, 0);
    }
    EXPECT_EQ(mode_of(file), 0600u);
    {
        ac::shared_counter shm(name_, 0, 0);
    }
    EXPECT_EQ(mode_of("/dev/shm/" + name_), 0600u);
    umask(077);  // a mode asked for is applied exactly, not narrowed by the umask
    const std::string group = path("group");
    ac::region_options options;
    options.mode = 0660;
    {
        ac::shared_counter c(group, 0, 0, std::nullopt, std::nullopt, options);
    }
    EXPECT_EQ(mode_of(group), 0660u);
    umask(old);
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, AWorldWritableRegionIsRefusedUnlessTheModeGrantsIt) {
    const std::string file = path("open");
    {
        ac::shared_counter c(file, 0, 0);
    }
    chmod(file.c_str(), 0666);
    const std::string before = read_file(file);
    EXPECT_EQ(errno_of([&] { ac::shared_counter c(file); }), EACCES);
    EXPECT_NE(error_of([&] { ac::shared_counter c(file); })
                  .find("writable by every user (mode "
                        "0o666)"),
              std::string::npos);
    EXPECT_EQ(read_file(file), before);
    ac::region_options options;
    options.mode = 0666;
    ac::shared_counter c(file, std::nullopt, std::nullopt, std::nullopt, std::nullopt, options);
    EXPECT_EQ(c.next(), 1u);
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, ASymlinkIsNeverFollowed) {
    const std::string target = path("victim");
    write_file(target, "");
    const std::string link = path("link");
    std::filesystem::create_symlink(target, link);
    EXPECT_EQ(errno_of([&] { ac::shared_counter c(link, 0, 0); }), ELOOP);
    EXPECT_EQ(read_file(target), "");  // nothing was written through the link
    std::filesystem::create_symlink(path("nowhere"), path("dangling"));
    EXPECT_EQ(errno_of([&] { ac::shared_counter c(path("dangling"), 0, 0); }), ELOOP);
    EXPECT_FALSE(std::filesystem::exists(path("nowhere")));
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, AFileWithAnotherHardLinkOrOfAnotherTypeIsRefused) {
    const std::string file = path("linked");
    {
        ac::shared_counter c(file, 0, 0);
    }
    std::filesystem::create_hard_link(file, path("second-name"));
    EXPECT_EQ(errno_of([&] { ac::shared_counter c(file); }), EPERM);
    const std::string fifo = path("fifo");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_NE(error_of([&] { ac::shared_counter c(fifo); }).find("not a regular file"),
              std::string::npos);
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, AnotherUsersRegionIsRefusedUnlessAllowed) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to give a file to another user";
    }
    const std::string file = path("planted");
    {
        ac::shared_counter c(file, 0, 1000);
    }
    ASSERT_EQ(chown(file.c_str(), 65534, 65534), 0);  // as if `nobody` had planted it
    const std::string before = read_file(file);
    const std::string message = error_of([&] { ac::shared_counter c(file); });
    EXPECT_NE(message.find("owned by user 65534"), std::string::npos) << message;
    EXPECT_NE(message.find("allow_other_owner"), std::string::npos) << message;
    EXPECT_EQ(errno_of([&] { ac::shared_counter c(file); }), EACCES);
    EXPECT_EQ(read_file(file), before);
    ac::region_options options;
    options.allow_other_owner = true;
    ac::shared_counter c(file, std::nullopt, std::nullopt, std::nullopt, std::nullopt, options);
    EXPECT_EQ(c.next(), 1001u);
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, ACreatorThatDiedBeforePublishingIsReplacedAtOnce) {
    // What a creator killed mid-way leaves: our magic and version, state 1, half a header; its
    // creation lock died with it.
    std::string bytes(4096, '\0');
    const std::uint64_t magic = ac::detail::region_magic;
    std::memcpy(&bytes[0], &magic, 8);
    bytes[8] = static_cast<char>(ac::detail::region_version);
    bytes[64] = 1;
    bytes[16] = 42;
    const std::string file = path("orphan");
    write_file(file, bytes);
    chmod(file.c_str(), 0600);
    const auto started = std::chrono::steady_clock::now();
    ac::shared_counter c(file, 0, 7);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
    EXPECT_TRUE(c.created());
    EXPECT_EQ(c.base(), 0u);
    EXPECT_EQ(c.next(), 8u);
    // An empty file is no creator's: a new region gets its name only once complete, so an
    // empty one was truncated. Refused, left as it is (issue 21).
    const std::string empty = path("empty");
    write_file(empty, "");
    chmod(empty.c_str(), 0600);
    EXPECT_NE(error_of([&] { ac::shared_counter e(empty, 0, 3); }).find("empty (0 bytes"),
              std::string::npos);
    EXPECT_EQ(read_file(empty), "");
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, ALiveCreatorHoldingTheLockIsWaitedForThenNamed) {
    // A page an older version began in place (our magic and version, state 1), its creator
    // alive and holding the lock: waited for, then named.
    const std::string file = path("stuck");
    std::string begun(4096, '\0');
    const std::uint64_t magic = ac::detail::region_magic;
    std::memcpy(&begun[0], &magic, 8);
    begun[8] = static_cast<char>(ac::detail::region_version);
    begun[64] = 1;
    write_file(file, begun);
    chmod(file.c_str(), 0600);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t holder = fork();
    if (holder == 0) {
        const int fd = open(file.c_str(), O_RDWR);
        flock(fd, LOCK_EX);
        (void)!write(ready[1], "x", 1);
        pause();  // holds the creation lock until killed, as a stopped creator would
        _exit(0);
    }
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    const std::string message = error_of([&] { ac::shared_counter c(file, 0, 0); });
    EXPECT_NE(message.find("held the region's creation lock for more than 1000 ms"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("it is alive"), std::string::npos) << message;
    EXPECT_EQ(message.find("unlink"), std::string::npos) << message;
    kill(holder, SIGKILL);
    waitpid(holder, nullptr, 0);
    ac::shared_counter c(file, 0, 0);  // its lock died with it
    EXPECT_EQ(c.next(), 1u);
}
#endif

TEST_F(SharedRegion, DamageToAnyFixedFieldIsCaughtByTheChecksum) {
    const std::string file = path("sum");
    {
        ac::shared_counter c(file, 0, 0, 3, 100);
    }
    const std::string good = read_file(file);
    struct field {
        std::size_t offset;
        char const* name;
    };
    for (field f : {field{16, "base"}, field{24, "interval"}, field{32, "durable_block"},
                    field{40, "start"}, field{48, "id"}, field{56, "id"}}) {
        std::string bad = good;
        bad[f.offset] = static_cast<char>(bad[f.offset] ^ 4);
        write_file(file, bad);
        const std::string message = error_of([&] { ac::shared_counter c(file); });
        EXPECT_NE(message.find("checksum"), std::string::npos) << f.name << ": " << message;
        EXPECT_EQ(read_file(file), bad) << f.name;
    }
}

TEST_F(SharedRegion, MovingFieldsOutOfOrderAreRefusedNamingTheField) {
    const std::string file = path("moving");
    {
        ac::shared_counter c(file, 0, 1000);
    }
    const std::string good = read_file(file);
    const auto refused = [&](std::size_t offset, std::uint64_t value, char const* expect) {
        write_file(file, good);
        poke(file, offset, value);
        const std::string bad = read_file(file);
        const std::string message = error_of([&] { ac::shared_counter c(file); });
        EXPECT_NE(message.find(expect), std::string::npos) << message;
        EXPECT_EQ(read_file(file), bad);
    };
    refused(200, 5, "persisted (5) is below start (1000)");
    refused(200, 2000, "persisted (2000) is above reserved (1000)");
    refused(192, 2000, "reserved (2000) moved in a region that is not durable");
    std::string moved = good;
    set_value(moved, 5);  // the value itself is free: set() may put it anywhere
    write_file(file, moved);
    ac::shared_counter c(file);
    EXPECT_EQ(c.next(), 6u);
}

TEST_F(SharedRegion, OnlyRegionAttachesToThatRegionOrRefuses) {
    ac::region_options options;
    {
        ac::shared_counter c(name_, 0, 0);
        options.only_region = c.id();
        EXPECT_EQ(ac::region_id::from_string(c.id().to_string()), c.id());
        ac::shared_counter same(name_, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                                options);
        EXPECT_EQ(same.next(), 1u);
        EXPECT_EQ(c.path(), name_);
    }

    ac::shared_counter::unlink(name_);  // on Windows the section went with its last user
    EXPECT_EQ(errno_of([&] {
                  ac::shared_counter c(name_, std::nullopt, std::nullopt, std::nullopt,
                                       std::nullopt, options);
              }),
              ENOENT);
#if defined(__linux__)
    EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name_)) << "attaching created a region";
#endif
    ac::shared_counter other(name_, 0, 0);  // a new region under the old name
    EXPECT_NE(other.id(), *options.only_region);
    const std::string message = error_of([&] {
        ac::shared_counter c(name_, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                             options);
    });
    EXPECT_NE(message.find("another region (id " + other.id().to_string() + ") now has the name"),
              std::string::npos)
        << message;
    EXPECT_THROW(ac::region_id::from_string("xyz"), std::invalid_argument);
}

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, ARelativePathIsKeptAbsolute) {
    const auto old = std::filesystem::current_path();
    std::filesystem::current_path(dir_);
    ac::shared_counter c("./relative.ctr", 0, 0);
    std::filesystem::current_path(old);
    EXPECT_EQ(c.path(), dir_.string() + "/./relative.ctr");
    EXPECT_EQ(c.name(), "./relative.ctr");
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, DurableOnAFileSystemInRamIsRefused) {
    const std::string file = "/dev/shm/" + name_ + ".ctr";
    const std::string message = error_of([&] { ac::shared_counter c(file, 0, 0, 1, 100); });
    EXPECT_NE(message.find("durable=True on tmpfs"), std::string::npos) << message;
    EXPECT_FALSE(std::filesystem::exists(file)) << "refusing created the file";
    ac::shared_counter plain(file, 0, 0);  // not durable: fine in RAM
    EXPECT_EQ(plain.next(), 1u);
    std::filesystem::remove(file);
}
#endif

TEST_F(SharedRegion, AFormatVersionOneRegionIsNamedAndLeftAlone) {
    const std::string file = path("old");
    {
        ac::shared_counter c(file, 0, 0);
    }
    std::string bytes = read_file(file);
    bytes[8] = 1;
    write_file(file, bytes);
    const std::string message = error_of([&] { ac::shared_counter c(file); });
    EXPECT_NE(message.find("region format version 1, this library reads version 3"),
              std::string::npos)
        << message;
    EXPECT_EQ(read_file(file), bytes);
}

TEST_F(SharedRegion, AClockPastTheEndOfTheLayoutIsRefusedNotWrapped) {
    const std::uint64_t end_ns = (std::uint64_t{1} << 52) * 1000;  // 2112-09-17T23:53:47Z
    ac::manual_clock clock(end_ns + 5000);
    EXPECT_THROW(ac::basic_time_counter<ac::manual_clock>{clock}, std::overflow_error);
    EXPECT_THROW((ac::basic_shared_time_counter<ac::manual_clock>(name_, std::nullopt, clock)),
                 std::overflow_error);
    clock.set_ns(end_ns - 2000);  // two microseconds before the end
    ac::basic_time_counter<ac::manual_clock> t(clock);
    const std::uint64_t last_valid = t.next();
    EXPECT_EQ(last_valid >> 12, (std::uint64_t{1} << 52) - 2);
    clock.set_ns(end_ns + 1000);
    EXPECT_THROW(t.next(), std::overflow_error);
    std::uint64_t block[4];
    EXPECT_THROW(t.next_many(block, 4), std::overflow_error);
    EXPECT_EQ(t.current(), last_valid);  // refused, kept: never wrapped back to 1970
}

#if defined(_WIN32)
TEST_F(SharedRegion, ASectionLivesOnlyWhileAProcessHoldsIt) {
    {
        ac::shared_counter a(name_, 0, 0);
        ac::shared_counter b(name_);
        EXPECT_EQ(a.next(), 1u);
        EXPECT_EQ(b.next(), 2u);
    }
    ac::shared_counter again(name_, 0, 40);  // documented: the name went with its last holder
    EXPECT_TRUE(again.created());
    EXPECT_EQ(again.next(), 41u);
}

TEST_F(SharedRegion, ADurableFileRegionFlushesAndReopensAboveItsMark) {
    const std::string file = path("durable.ctr");
    std::uint64_t last = 0;
    {
        ac::shared_counter c(file, 0, 0, 1, 8);
        for (int i = 0; i < 20; ++i) {
            last = c.next();  // FlushViewOfFile + FlushFileBuffers every 8 draws
        }
    }
    ac::shared_counter reopened(file);
    EXPECT_GT(reopened.next(), last);
    EXPECT_EQ(std::string(ac::detail::os::names_file("a\\b") ? "file" : "name"), "file");
}
#endif

// Issue 21 ----------------------------------------------------------------------------------

#if !defined(_WIN32)  // a mapped file cannot be truncated on Windows
TEST_F(SharedRegion, AnEmptyOrZeroedFileIsDamageNeverANewRegion) {
    for (std::string const& file : {path("plain"), "/dev/shm/" + name_}) {
        const bool shm = file.rfind("/dev/shm/", 0) == 0;
        const std::string name = shm ? name_ : file;
        {
            ac::shared_counter holder(name, 0, 0);
            EXPECT_EQ(holder.next(), 1u);
            ASSERT_EQ(truncate(file.c_str(), 0), 0);  // `: > file` under a live holder
            const std::string message = error_of([&] { ac::shared_counter c(name); });
            EXPECT_NE(message.find("empty (0 bytes, expected 4096)"), std::string::npos) << message;
            EXPECT_EQ(read_file(file), "") << "the opener wrote into the emptied file";
            ASSERT_EQ(truncate(file.c_str(), 4096), 0);  // regrown as zeros
            const std::string zeroed = error_of([&] { ac::shared_time_counter t(name); });
            EXPECT_NE(zeroed.find("not an atomic_counter region"), std::string::npos) << zeroed;
            EXPECT_EQ(read_file(file), std::string(4096, '\0'));
        }  // the holder unmaps without touching the page
        ac::shared_counter::unlink(name);  // damage holds no sequence: the name just goes
        EXPECT_FALSE(std::filesystem::exists(file));
    }
}
#endif

#if !defined(_WIN32)  // Windows removes no name a process holds (see below)
TEST_F(SharedRegion, UnlinkEndsTheSequenceForEveryHolder) {
    const std::string file = path("orders.ctr");
    const std::string timer = path("events.ctr");
    {
        ac::shared_counter a(file, 0, 0);
        ac::shared_time_counter t(timer);
        ac::shared_counter durable(path("durable.ctr"), 0, 0, 1, 10);
        EXPECT_EQ(a.next(), 1u);
        t.next();
        durable.next();
        ac::shared_counter::unlink(file);
        ac::shared_time_counter::unlink(timer);
        ac::shared_counter::unlink(path("durable.ctr"));
        std::uint64_t out[3];
        for (ac::shared_counter* c : {&a, &durable}) {
            EXPECT_EQ(errno_of([&] { c->next(); }), ENOENT);
            EXPECT_EQ(errno_of([&] { c->next_many(out, 3); }), ENOENT);
            EXPECT_EQ(errno_of([&] { c->set(0); }), ENOENT);  // a store never lifts the mark
            EXPECT_EQ(errno_of([&] { c->advance_to(5); }), ENOENT);
            EXPECT_EQ(errno_of([&] { c->next(); }), ENOENT);
        }
        EXPECT_EQ(errno_of([&] { t.next(); }), ENOENT);
        EXPECT_EQ(errno_of([&] { t.next_many(out, 3); }), ENOENT);
        EXPECT_EQ(errno_of([&] { t.advance_to(5); }), ENOENT);
        const std::string message = error_of([&] { a.next(); });
        EXPECT_NE(message.find("was unlinked, which ended its sequence"), std::string::npos)
            << message;
        EXPECT_EQ(errno_of([&] { ac::shared_counter::unlink(file); }), ENOENT);
    }
    ac::shared_counter again(file, 0, 0);  // a new region, from its own base and now
    EXPECT_TRUE(again.created());
    EXPECT_EQ(again.next(), 1u);
}
#else
TEST_F(SharedRegion, UnlinkEndsAFileRegionsSequenceOnWindowsToo) {
    const std::string file = path("orders.ctr");
    {
        ac::shared_counter a(file, 0, 0);
        EXPECT_EQ(a.next(), 1u);
        // Windows removes no mapped file (EBUSY); wine does, as POSIX: ended either way.
        const int err = errno_of([&] { ac::shared_counter::unlink(file); });
        EXPECT_TRUE(err == 0 || err == EBUSY) << err;
        EXPECT_EQ(errno_of([&] { a.next(); }), ENOENT);
        EXPECT_EQ(errno_of([&] { a.set(0); }), ENOENT);
    }
    ac::shared_counter again(file, 0, 0);  // removes an ended region still named, then creates
    EXPECT_TRUE(again.created());
    EXPECT_EQ(again.next(), 1u);
}

TEST_F(SharedRegion, ANewFileRegionIsRenamedIntoPlaceWhole) {
    const std::string file = path("whole.ctr");
    {
        ac::shared_counter a(file, 0, 5);
        EXPECT_TRUE(a.created());
        ac::shared_counter b(file);
        EXPECT_FALSE(b.created());
        EXPECT_EQ(b.next(), 6u);
    }
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                            std::filesystem::directory_iterator()),
              1)
        << "a temporary file was left behind";
    write_file(file, "");  // emptied while nobody holds it
    const std::string message = error_of([&] { ac::shared_counter c(file); });
    EXPECT_NE(message.find("empty (0 bytes"), std::string::npos) << message;
    EXPECT_EQ(read_file(file), "");
}
#endif

#if !defined(_WIN32)  // a section has no name to remove: unlink() leaves it as it is there
TEST_F(SharedRegion, AnUnlinkerThatDiedMidWayIsFinishedByTheNextOpener) {
    ac::shared_counter holder(name_, 0, 0);
    EXPECT_EQ(holder.next(), 1u);
    // An unlink() killed after its first store: state ended, no end mark yet, the name there.
    poke("/dev/shm/" + name_, 64, ac::detail::state_ended);
    ac::shared_counter again(name_, 0, 100);
    EXPECT_TRUE(again.created());
    EXPECT_NE(again.id(), holder.id());
    EXPECT_EQ(again.next(), 101u);
    EXPECT_EQ(errno_of([&] { holder.next(); }), ENOENT);  // the opener stored the mark too
    // A page that only looks ended (damaged fixed fields) is refused and left alone.
    const std::string file = path("fake-ended");
    {
        ac::shared_counter c(file, 0, 0);
    }
    poke(file, 64, ac::detail::state_ended);
    poke(file, 16, 99);  // base: the checksum no longer matches
    const std::string bad = read_file(file);
    EXPECT_NE(error_of([&] { ac::shared_counter c(file); }).find("corrupt header"),
              std::string::npos);
    EXPECT_EQ(read_file(file), bad);
}

TEST_F(SharedRegion, ADurableFileCopiedWithinABootIsRefused) {
    std::uint64_t boot[2];
    ac::detail::os::boot_id(boot);
    if (boot[0] == 0 && boot[1] == 0) {
        GTEST_SKIP() << "this system reports no boot id";
    }
    const std::string file = path("orders.ctr");
    std::uint64_t last = 0;
    {
        ac::shared_counter c(file, 0, 0, 1, 10);
        c.next();
        std::filesystem::copy_file(file, path("backup"));
        for (int i = 0; i < 100; ++i) {
            last = c.next();
        }
    }
    std::filesystem::rename(path("backup"), file);  // restored: another inode
    const std::string restored = read_file(file);
    const std::string message = error_of([&] { ac::shared_counter c(file); });
    EXPECT_NE(message.find("recorded in this boot by another file"), std::string::npos) << message;
    EXPECT_EQ(read_file(file), restored);
    std::filesystem::remove(file);
    ac::shared_counter again(file, 0, 0, 1, 10);  // the documented remedy
    again.advance_to(last);
    EXPECT_EQ(again.next(), last + 1);
}
#endif

// Issue 21, second round ----------------------------------------------------------------------

TEST_F(SharedRegion, AZeroedValueFieldCanOnlyReadAsALargerValueAndAllZeroIsTheEnd) {
    // Every way a file loses bytes under its holders turns them into zeros; the value field
    // stores mark - value, so zeroed bytes can only raise the value it reads as.
    struct kind {
        std::uint32_t kind;
        std::uint64_t interval;
    };
    for (kind const k : {kind{1, 1}, kind{1, 3}, kind{1, std::uint64_t{1} << 31},
                         kind{1, std::uint64_t{1} << 40}, kind{2, 0}}) {
        const std::uint64_t mark = ac::detail::end_mark(k.kind, k.interval);
        if (k.kind == 1) {
            const std::uint64_t limit = ac::detail::counter_rules::limit_for(k.interval);
            EXPECT_GT(mark, limit);  // every draw refuses the end
        } else {
            EXPECT_EQ(mark, ~std::uint64_t{0});
        }
        for (std::uint64_t value :
             {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000}, std::uint64_t{1} << 40,
              std::uint64_t{0x1234567890abcdef}, mark - 1}) {
            std::atomic<std::uint64_t> field{0};
            ac::detail::stored_value v(field, mark);
            v.store(value, std::memory_order_relaxed);
            EXPECT_EQ(v.load(std::memory_order_relaxed), value);
            for (unsigned kept = 0; kept <= 8; ++kept) {  // a file cut at 128 + kept bytes
                const std::uint64_t stored = field.load();
                const std::uint64_t cut =
                    kept == 8 ? stored : stored & ((std::uint64_t{1} << (8 * kept)) - 1);
                std::atomic<std::uint64_t> zeroed{cut};
                const std::uint64_t reads =
                    ac::detail::stored_value(zeroed, mark).load(std::memory_order_relaxed);
                EXPECT_GE(reads, value) << "kept " << kept << " bytes of " << value;
                if (kept == 0) {
                    EXPECT_EQ(reads, mark);
                }
            }
        }
    }
}

#if !defined(_WIN32)  // a mapped file cannot be truncated on Windows
TEST_F(SharedRegion, AFileCutShortUnderItsHoldersEndsTheirSequence) {
    for (std::size_t size : {std::size_t{0}, std::size_t{100}, std::size_t{128}}) {
        const std::string file = path("cut");
        {
            ac::shared_counter c(file, 0, std::uint64_t{1} << 40);
            ac::shared_time_counter t(path("cut-t"));
            const std::uint64_t before = c.next();
            const std::uint64_t last_id = t.next();
            ASSERT_EQ(truncate(file.c_str(), static_cast<off_t>(size)), 0);
            ASSERT_EQ(truncate(path("cut-t").c_str(), static_cast<off_t>(size)), 0);
            if (size == 0) {  // regrown as zeros: a page past the end would fault
                ASSERT_EQ(truncate(file.c_str(), 4096), 0);
                ASSERT_EQ(truncate(path("cut-t").c_str(), 4096), 0);
            }
            for (int i = 0; i < 3; ++i) {  // before: 1, 2, 3
                const std::string message = error_of([&] { c.next(); });
                EXPECT_NE(message.find("zeroed under this holder"), std::string::npos)
                    << size << ": " << message;
                EXPECT_THROW(t.next(), std::domain_error) << size;
            }
            EXPECT_GT(c.current(), before);
            EXPECT_GT(t.current(), last_id);
            if (size == 128) {  // regrown: the header whole, the value field zero
                ASSERT_EQ(truncate(file.c_str(), 4096), 0);
                const std::string zeroed = read_file(file);
                const std::string message = error_of([&] { ac::shared_counter d(file); });
                EXPECT_NE(message.find("value is zero"), std::string::npos) << message;
                EXPECT_EQ(read_file(file), zeroed);
            }
        }
        std::filesystem::remove(file);
        std::filesystem::remove(path("cut-t"));
    }
}

TEST_F(SharedRegion, UnlinkByNameEndsADamagedRegionAndRefusesWhatItCannotEnd) {
    const std::string file = path("damaged");
    const std::function<void()> damages[] = {
        [&] { std::ofstream(file, std::ios::binary | std::ios::app) << '\n'; },  // extended
        [&] { ASSERT_EQ(truncate(file.c_str(), 2048), 0); },                     // cut short
        [&] { std::filesystem::create_hard_link(file, path("second-name")); },   // a 2nd link
        [&] {  // a stray byte in base: the checksum breaks
            const int fd = open(file.c_str(), O_RDWR);
            ASSERT_EQ(pwrite(fd, "\x01", 1, 20), 1);
            close(fd);
        },
    };
    for (auto const& damage : damages) {
        ac::shared_counter holder(file, 0, 0);
        EXPECT_EQ(holder.next(), 1u);
        damage();
        EXPECT_EQ(holder.next(), 2u);  // the page is whole: drawn on
        ac::shared_counter::unlink(file);
        EXPECT_EQ(errno_of([&] { holder.next(); }), ENOENT);  // before: 3, nameless
        EXPECT_FALSE(std::filesystem::exists(file));
        std::filesystem::remove(path("second-name"));
    }
    // A symbolic link: nothing of ours to end behind it, never removed.
    write_file(path("target"), "");
    std::filesystem::create_symlink(path("target"), file);
    EXPECT_EQ(errno_of([&] { ac::shared_counter::unlink(file); }), ELOOP);
    EXPECT_TRUE(std::filesystem::is_symlink(file));
    std::filesystem::remove(file);
    // Not a region, with something where the value field would be: refused, left untouched.
    const std::string foreign(4096, 'x');
    write_file(file, foreign);
    EXPECT_THROW(ac::shared_counter::unlink(file), std::domain_error);
    EXPECT_EQ(read_file(file), foreign);
    // Another format of ours: its value is not ours to end.
    {
        ac::shared_counter c(path("older"), 0, 0);
    }
    std::string older = read_file(path("older"));
    older[8] = 2;
    write_file(path("older"), older);
    EXPECT_NE(error_of([&] {
                  ac::shared_counter::unlink(path("older"));
              }).find("region format version 2"),
              std::string::npos);
    EXPECT_EQ(read_file(path("older")), older);
    // Emptied, or zeroed: nothing can draw from it; removed.
    for (std::string const& bytes : {std::string(), std::string(4096, '\0')}) {
        write_file(file, bytes);
        ac::shared_counter::unlink(file);
        EXPECT_FALSE(std::filesystem::exists(file));
    }
}

TEST_F(SharedRegion, UnlinkOfAnObjectEndsItsOwnRegionWhereverItsNameIsNow) {
    // After a chdir: its own region, by the absolute path taken at open.
    std::filesystem::create_directories(path("a"));
    std::filesystem::create_directories(path("b"));
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(path("a"));
    ac::shared_counter mine("./orders.ctr", 0, 0);
    std::filesystem::current_path(path("b"));
    ac::shared_counter theirs("./orders.ctr", 0, 100);
    mine.unlink();  // before (by name): ended theirs
    std::filesystem::current_path(cwd);
    EXPECT_EQ(errno_of([&] { mine.next(); }), ENOENT);
    EXPECT_EQ(theirs.next(), 101u);
    EXPECT_FALSE(std::filesystem::exists(path("a") + "/orders.ctr"));
    EXPECT_TRUE(std::filesystem::exists(path("b") + "/orders.ctr"));
    // Its name unlinked by another and given to a new region: ended, the new one left alone.
    const std::string file = path("orders.ctr");
    ac::shared_counter first(file, 0, 0);
    ac::shared_counter::unlink(file);
    ac::shared_counter second(file, 0, 500);
    EXPECT_EQ(errno_of([&] { first.unlink(); }), ENOENT);
    EXPECT_EQ(second.next(), 501u);
    ac::shared_counter again(file);
    EXPECT_EQ(again.id(), second.id());
}

TEST_F(SharedRegion, ACreatorsTemporaryNameBesideTheRegionIsFinishedByTheOpener) {
    // Where neither O_TMPFILE nor a no-replace rename exists, a region is linked into place,
    // then its temporary name removed; a creator stopped or killed between leaves both.
    const std::string file = path("orders.ctr");
    {
        ac::shared_counter c(file, 0, 0);
    }
    const std::string temporary = path(".orders.ctr.0123456789abcdef.tmp");
    std::filesystem::create_hard_link(file, temporary);
    ac::shared_counter c(file);  // before: EPERM, "2 hard links"
    EXPECT_EQ(c.next(), 1u);
    EXPECT_FALSE(std::filesystem::exists(temporary));
    std::filesystem::create_hard_link(file, path("orders.ctr.backup"));  // anything else
    EXPECT_EQ(errno_of([&] { ac::shared_counter d(file); }), EPERM);
}

TEST_F(SharedRegion, ACopyUnderARecycledInodeNumberIsToldByWhenItWasMade) {
    const std::string file = path("orders.ctr");
    {
        ac::shared_counter c(file, 0, 0, 1, 10);
        c.next();
    }
    const std::string page = read_file(file);
    std::uint64_t birth = 0;
    std::uint64_t generation = 0;
    std::memcpy(&birth, &page[248], 8);
    std::memcpy(&generation, &page[256], 8);
    if (birth == 0 && generation == 0) {
        GTEST_SKIP() << "this file system tells neither when a file was made nor its generation";
    }
    // The same inode number (and device), another file: what rm + cp gives on ext4.
    for (std::size_t offset : {std::size_t{248}, std::size_t{256}}) {
        if ((offset == 248 ? birth : generation) == 0) {
            continue;  // not known here
        }
        std::string copy = page;
        copy[offset] = static_cast<char>(copy[offset] ^ 1);
        write_file(file, copy);  // in place: the same inode
        const std::string message = error_of([&] { ac::shared_counter c(file); });
        EXPECT_NE(message.find("recorded in this boot by another file"), std::string::npos)
            << message;
        EXPECT_EQ(read_file(file), copy);
    }
}
#endif

#if !defined(_WIN32)  // POSIX processes, permissions or names
TEST_F(SharedRegion, APageRecordedByAnotherFileInAnEarlierBootIsRefused) {
    const std::string file = path("svc.ctr");
    {
        ac::shared_counter c(file, 0, 0, 1, 100);
        c.next();
    }
    std::string page = read_file(file);
    simulate_reboot(page);
    write_file(file, page);  // in place: the same file, last opened in an earlier boot
    std::filesystem::copy_file(file, path("svc.ctr.bak"));  // a backup, made in this boot
    std::uint64_t last = 0;
    {
        ac::shared_counter c(file);  // the boot's first open: lifted once, recorded
        for (int i = 0; i < 1000; ++i) {
            last = c.next();
        }
    }
    std::filesystem::rename(path("svc.ctr.bak"), file);
    const std::string restored = read_file(file);
    const std::string message = error_of([&] { ac::shared_counter c(file); });
    EXPECT_NE(message.find("recorded by another file"), std::string::npos) << message;
    EXPECT_EQ(read_file(file), restored);  // before: accepted, 1000 values again
    std::filesystem::remove(file);
    ac::shared_counter again(file, 0, 0, 1, 100);  // the remedy
    again.advance_to(last);
    EXPECT_EQ(again.next(), last + 1);
}

TEST_F(SharedRegion, AWriteErrorMarkMakesEveryLaterOpenInTheBootLiftPastReserved) {
    std::uint64_t boot[2];
    ac::detail::os::boot_id(boot);
    if (boot[0] == 0 && boot[1] == 0) {
        GTEST_SKIP() << "this system reports no boot id (every durable open lifts)";
    }
    const std::string file = path("d.ctr");
    ac::region_id id;
    {
        ac::shared_counter c(file, 0, 0, 1, 10);
        EXPECT_EQ(c.next(), 1u);  // reserved 11
        id = c.id();
    }
    {
        ac::shared_counter c(file);
        EXPECT_EQ(c.next(), 2u);  // within the boot: the page is the newest
    }
    const std::uint64_t words[2] = {id.high, id.low};
    ac::detail::os::mark_write_error(words);  // what a failed msync leaves for the boot
    for (std::uint64_t expected : {std::uint64_t{12}, std::uint64_t{23}}) {
        ac::shared_counter c(file);
        EXPECT_EQ(c.next(), expected);  // lifted past reserved, every time
    }
    EXPECT_TRUE(ac::detail::os::write_error_marked(words));
    ac::shared_counter::unlink(file);  // ended: its mark goes with it
    EXPECT_FALSE(ac::detail::os::write_error_marked(words));
}
#endif

TEST_F(SharedRegion, AnUnstartedRegionTakesItsStartFromAClockReadAfterPublication) {
    // What a creator stopped between building its region (its start from the clock then) and
    // publishing it leaves once it wakes up: the region under the name, state unstarted.
    const std::string file = path("stale.ctr");
    ac::manual_clock clock(1000000);
    {
        ac::basic_shared_counter<ac::manual_clock> c(file, 0, std::nullopt, std::nullopt,
                                                     std::nullopt, {}, clock);
        EXPECT_EQ(c.current(), 1000000u);  // finished by its creator, at once
    }
    std::string page = read_file(file);
    page[64] = static_cast<char>(ac::detail::state_unstarted);
    write_file(file, page);
    clock.set_ns(5000000);  // its first opener reads the clock after the name exists
    ac::basic_shared_counter<ac::manual_clock> first(file, std::nullopt, 7, std::nullopt,
                                                     std::nullopt, {}, clock);
    EXPECT_EQ(first.next(), 5000001u);  // from the clock (its own now, 7, is for creating)
    EXPECT_EQ(read_file(file)[64], static_cast<char>(ac::detail::state_ready));
    // An explicit start is the caller's: published ready, never lifted.
    ac::shared_counter fixed(path("fixed.ctr"), 0, 0);
    EXPECT_EQ(fixed.next(), 1u);
}
