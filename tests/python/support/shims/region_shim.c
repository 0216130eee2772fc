/* An LD_PRELOAD shim for the shared-region tests, built by tests/python/shims.py.
 *
 *   AC_SHIM_MSYNC_DELAY_MS=N   every msync sleeps N ms first (a slow disk)
 *   AC_SHIM_MSYNC_GATE=PATH    every msync creates PATH.started, then waits until PATH.go exists
 *   AC_SHIM_FSYNC_LOG=PATH     every fsync appends the synced file's path to PATH, one a line
 *   AC_SHIM_MSYNC_EIO=PATH     while PATH exists, the next msync removes it and fails with EIO,
 *                              without writing: a write-back error, which the kernel reports once
 *   AC_SHIM_NO_TMPFILE=1       open(O_TMPFILE) fails with EOPNOTSUPP, as on NFS or old kernels
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int msync(void* address, size_t length, int flags) {
    static int (*real)(void*, size_t, int);
    if (real == NULL) {
        real = (int (*)(void*, size_t, int))dlsym(RTLD_NEXT, "msync");
    }
    const char* delay = getenv("AC_SHIM_MSYNC_DELAY_MS");
    if (delay != NULL) {
        usleep((useconds_t)atoi(delay) * 1000u);
    }
    const char* gate = getenv("AC_SHIM_MSYNC_GATE");
    if (gate != NULL) {
        char started[PATH_MAX], go[PATH_MAX];
        snprintf(started, sizeof started, "%s.started", gate);
        snprintf(go, sizeof go, "%s.go", gate);
        close(open(started, O_WRONLY | O_CREAT, 0600));
        while (access(go, F_OK) != 0) {
            usleep(1000);
        }
    }
    const char* eio = getenv("AC_SHIM_MSYNC_EIO");
    if (eio != NULL && unlink(eio) == 0) {
        errno = EIO;
        return -1;
    }
    return real(address, length, flags);
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    const char* log = getenv("AC_SHIM_FSYNC_LOG");
    if (log != NULL) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        const ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\n';
            const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (out >= 0) {
                (void)!write(out, target, (size_t)n + 1);
                close(out);
            }
        }
    }
    return real(fd);
}

static int open_with(const char* symbol, const char* path, int flags, va_list args) {
    mode_t mode = 0;
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        mode = (mode_t)va_arg(args, int);
    }
    if (getenv("AC_SHIM_NO_TMPFILE") != NULL && (flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP;
        return -1;
    }
    int (*real)(const char*, int, ...) = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, symbol);
    return real(path, flags, mode);
}

int open(const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const int fd = open_with("open", path, flags, args);
    va_end(args);
    return fd;
}

int open64(const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const int fd = open_with("open64", path, flags, args);
    va_end(args);
    return fd;
}
