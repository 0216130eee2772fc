/* An LD_PRELOAD shim for the shared-region tests, built by tests/python/shims.py.
 *
 *   AC_SHIM_MSYNC_DELAY_MS=N   every msync sleeps N ms first (a slow disk)
 *   AC_SHIM_MSYNC_GATE=PATH    every msync creates PATH.started, then waits until PATH.go exists
 *   AC_SHIM_FSYNC_LOG=PATH     every fsync appends the synced file's path to PATH, one a line
 *   AC_SHIM_MSYNC_EIO=PATH     while PATH exists, the next msync removes it and fails with EIO,
 *                              without writing: a write-back error, which the kernel reports once
 *   AC_SHIM_NO_TMPFILE=1       open(O_TMPFILE) fails with EOPNOTSUPP, as on NFS or old kernels
 *   AC_SHIM_NO_RENAMEAT2=1     renameat2 (by syscall) fails with EINVAL, as on NFS
 *   AC_SHIM_FSYNC_EIO=PATH     while PATH exists, the next fsync removes it and fails with EIO
 *   AC_SHIM_OPEN_GATE=PATH     once PATH.arm exists, the next open or shm_open (without O_CREAT)
 *                              of a name containing $AC_SHIM_OPEN_MATCH creates PATH.started,
 *                              then waits until PATH.go exists (a process preempted right after
 *                              opening a region's name); once per process
 *   AC_SHIM_UNLINK_GATE=PATH   once PATH.arm holds this process's pid, its next shm_unlink or
 *                              unlink of a name containing $AC_SHIM_OPEN_MATCH creates
 *                              PATH.started and waits until PATH.go exists, then removes the name
 *   AC_SHIM_LINK_GATE=PATH     after a successful link(), creates PATH.started and waits until
 *                              PATH.go exists (a creator stopped between link and unlink)
 *   AC_SHIM_LINK_LOG=PATH      every link() appends its target to PATH, one a line
 *   AC_SHIM_LINKAT_GATE=PATH   before linkat(), creates PATH.started and waits until PATH.go
 *                              exists (a creator stopped before it publishes its region)
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
#include <sys/syscall.h>
#include <unistd.h>

/* Creates GATE.started, then waits until GATE.go exists. */
static void wait_at_gate(const char* gate) {
    char started[PATH_MAX], go[PATH_MAX];
    snprintf(started, sizeof started, "%s.started", gate);
    snprintf(go, sizeof go, "%s.go", gate);
    close(open(started, O_WRONLY | O_CREAT, 0600));
    while (access(go, F_OK) != 0) {
        usleep(1000);
    }
}

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
        wait_at_gate(gate);
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
    const char* eio = getenv("AC_SHIM_FSYNC_EIO");
    if (eio != NULL && unlink(eio) == 0) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

/* The open gate: once per process, after a successful open of a matching name. */
static void maybe_gate_open(const char* path, int flags, int fd) {
    static int done;
    const char* gate = getenv("AC_SHIM_OPEN_GATE");
    const char* match = getenv("AC_SHIM_OPEN_MATCH");
    if (done || fd < 0 || gate == NULL || match == NULL || (flags & O_CREAT) != 0 ||
        strstr(path, match) == NULL) {
        return;
    }
    char arm[PATH_MAX];
    snprintf(arm, sizeof arm, "%s.arm", gate);
    if (access(arm, F_OK) != 0) {
        return;
    }
    done = 1;
    wait_at_gate(gate);
}

/* The unlink gate: once per process, before removing a matching name, if armed for this pid. */
static void maybe_gate_unlink(const char* path) {
    static int done;
    const char* gate = getenv("AC_SHIM_UNLINK_GATE");
    const char* match = getenv("AC_SHIM_OPEN_MATCH");
    if (done || gate == NULL || match == NULL || strstr(path, match) == NULL) {
        return;
    }
    char arm[PATH_MAX];
    snprintf(arm, sizeof arm, "%s.arm", gate);
    FILE* f = fopen(arm, "r");
    if (f == NULL) {
        return;
    }
    long pid = 0;
    const int read = fscanf(f, "%ld", &pid);
    fclose(f);
    if (read != 1 || pid != (long)getpid()) {
        return;
    }
    done = 1;
    wait_at_gate(gate);
}

int shm_unlink(const char* name) {
    static int (*real)(const char*);
    if (real == NULL) {
        real = (int (*)(const char*))dlsym(RTLD_NEXT, "shm_unlink");
    }
    maybe_gate_unlink(name);
    return real(name);
}

int unlink(const char* path) {
    static int (*real)(const char*);
    if (real == NULL) {
        real = (int (*)(const char*))dlsym(RTLD_NEXT, "unlink");
    }
    maybe_gate_unlink(path);
    return real(path);
}

int shm_open(const char* name, int flags, mode_t mode) {
    static int (*real)(const char*, int, mode_t);
    if (real == NULL) {
        real = (int (*)(const char*, int, mode_t))dlsym(RTLD_NEXT, "shm_open");
    }
    const int fd = real(name, flags, mode);
    maybe_gate_open(name, flags, fd);
    return fd;
}

int link(const char* from, const char* to) {
    static int (*real)(const char*, const char*);
    if (real == NULL) {
        real = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "link");
    }
    const char* log = getenv("AC_SHIM_LINK_LOG");
    if (log != NULL) {
        const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (out >= 0) {
            (void)!write(out, to, strlen(to));
            (void)!write(out, "\n", 1);
            close(out);
        }
    }
    const int rc = real(from, to);
    const char* gate = getenv("AC_SHIM_LINK_GATE");
    if (rc == 0 && gate != NULL) {
        wait_at_gate(gate);
    }
    return rc;
}

int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags) {
    static int (*real)(int, const char*, int, const char*, int);
    if (real == NULL) {
        real = (int (*)(int, const char*, int, const char*, int))dlsym(RTLD_NEXT, "linkat");
    }
    const char* gate = getenv("AC_SHIM_LINKAT_GATE");
    if (gate != NULL) {
        wait_at_gate(gate);
    }
    return real(from_dir, from, to_dir, to, flags);
}

long syscall(long number, ...) {
    static long (*real)(long, ...);
    if (real == NULL) {
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    }
    va_list args;
    va_start(args, number);
    long a[6];
    for (int i = 0; i < 6; ++i) {
        a[i] = va_arg(args, long);
    }
    va_end(args);
#ifdef SYS_renameat2
    if (number == SYS_renameat2 && getenv("AC_SHIM_NO_RENAMEAT2") != NULL) {
        errno = EINVAL;
        return -1;
    }
#endif
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
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
    const int fd = real(path, flags, mode);
    maybe_gate_open(path, flags, fd);
    return fd;
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
